// The sweeper's own decisions (how many batches, when to stop, one sweep at a time, what is logged, what stop() waits
// for), with the database replaced by a stub that answers each DELETE with a chosen row count. What the DELETE does
// to real rows is tested against PostgreSQL in idempotency.test.ts.
import type { Logger } from 'pino';
import type { Database } from '../src/db/database';
import { IdempotencyKeySweeper, SWEEP_BATCH_SIZE, SWEEP_INTERVAL_MS, SWEEP_MAX_BATCHES } from '../src/idempotency';

interface Stub {
  readonly sweeper: IdempotencyKeySweeper;
  readonly query: jest.Mock;
  readonly info: jest.Mock;
  readonly warn: jest.Mock;
}

/** A sweeper on a stub database whose query answers with `answer()` (by default an empty batch). */
function stub(answer: () => Promise<{ rowCount: number | null }> = () => Promise.resolve({ rowCount: 0 }), intervalMs?: number): Stub {
  const query = jest.fn(answer);
  const info = jest.fn();
  const warn = jest.fn();
  const sweeper = new IdempotencyKeySweeper({
    db: { query } as unknown as Database,
    logger: { info, warn } as unknown as Logger,
    ...(intervalMs === undefined ? {} : { intervalMs }),
  });
  return { sweeper, query, info, warn };
}

/** Answers with these row counts in turn (the last one again once they run out). */
function rowCounts(...counts: (number | null)[]): () => Promise<{ rowCount: number | null }> {
  let i = 0;
  return () => Promise.resolve({ rowCount: counts[Math.min(i++, counts.length - 1)] ?? null });
}

/** A query answer the test settles by hand: the sweep stays in progress until then. */
function pending(): { promise: Promise<{ rowCount: number }>; resolve(rowCount: number): void; reject(err: Error): void } {
  let resolve!: (v: { rowCount: number }) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<{ rowCount: number }>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve: (rowCount) => resolve({ rowCount }), reject };
}

describe('sweepOnce', () => {
  test('the sizes it works in: 1000 rows per DELETE, at most 20 DELETEs per sweep, every 10 minutes', () => {
    expect(SWEEP_BATCH_SIZE).toBe(1000);
    expect(SWEEP_MAX_BATCHES).toBe(20);
    expect(SWEEP_INTERVAL_MS).toBe(600000);
  });

  test('each DELETE is the named prepared statement, limited to one batch, skipping rows other tasks hold', async () => {
    const { sweeper, query } = stub(rowCounts(3));
    await expect(sweeper.sweepOnce()).resolves.toBe(3);
    expect(query).toHaveBeenCalledTimes(1);
    expect(query).toHaveBeenCalledWith({ name: 'idempotency-sweep', text: expect.any(String), values: [SWEEP_BATCH_SIZE] });
    const { text } = query.mock.calls[0]?.[0] as { text: string };
    expect(text.replace(/\s+/g, ' ')).toBe(
      'DELETE FROM idempotency_keys WHERE key IN ( SELECT key FROM idempotency_keys WHERE expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED )',
    );
  });

  test.each([
    { name: 'an empty first batch', counts: [0], calls: 1, deleted: 0 },
    { name: 'a short first batch', counts: [SWEEP_BATCH_SIZE - 1], calls: 1, deleted: SWEEP_BATCH_SIZE - 1 },
    { name: 'no row count from the driver (counted as 0)', counts: [null], calls: 1, deleted: 0 },
    { name: 'full batches, then a short one', counts: [SWEEP_BATCH_SIZE, SWEEP_BATCH_SIZE, 7], calls: 3, deleted: 2 * SWEEP_BATCH_SIZE + 7 },
    { name: 'a full batch, then an empty one', counts: [SWEEP_BATCH_SIZE, 0], calls: 2, deleted: SWEEP_BATCH_SIZE },
    {
      name: 'nothing but full batches: it stops at the cap and leaves the rest for the next interval',
      counts: [SWEEP_BATCH_SIZE],
      calls: SWEEP_MAX_BATCHES,
      deleted: SWEEP_MAX_BATCHES * SWEEP_BATCH_SIZE,
    },
  ])('$name: $calls DELETE(s), $deleted deleted', async ({ counts, calls, deleted }) => {
    const { sweeper, query } = stub(rowCounts(...counts));
    await expect(sweeper.sweepOnce()).resolves.toBe(deleted);
    expect(query).toHaveBeenCalledTimes(calls);
  });

  test('a failing DELETE fails the sweep (start() reports it; nothing is retried within the sweep)', async () => {
    const { sweeper, query } = stub(() => Promise.reject(new Error('fake connection reset')));
    await expect(sweeper.sweepOnce()).rejects.toThrow('fake connection reset');
    expect(query).toHaveBeenCalledTimes(1);
  });
});

describe('start and stop', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('sweeps once per interval, the default interval being SWEEP_INTERVAL_MS', async () => {
    const { sweeper, query } = stub();
    sweeper.start();
    await jest.advanceTimersByTimeAsync(SWEEP_INTERVAL_MS - 1);
    expect(query).toHaveBeenCalledTimes(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(query).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(2 * SWEEP_INTERVAL_MS);
    expect(query).toHaveBeenCalledTimes(3);
    await sweeper.stop();
  });

  test('a second start() is ignored: one timer, which stop() then clears', async () => {
    const { sweeper, query } = stub(undefined, 100);
    sweeper.start();
    sweeper.start();
    await jest.advanceTimersByTimeAsync(100);
    expect(query).toHaveBeenCalledTimes(1);
    await sweeper.stop();
    await jest.advanceTimersByTimeAsync(1000);
    expect(query).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('the timer does not keep the process alive', async () => {
    jest.useRealTimers();
    const setIntervalSpy = jest.spyOn(global, 'setInterval');
    const { sweeper } = stub(undefined, 100);
    sweeper.start();
    const timer = setIntervalSpy.mock.results[0]?.value as NodeJS.Timeout;
    setIntervalSpy.mockRestore();
    expect(timer.hasRef()).toBe(false);
    await sweeper.stop();
  });

  test('a slow sweep is not overlapped: ticks while it runs are skipped, and the next tick after it sweeps again', async () => {
    const slow = pending();
    const answers = [slow.promise];
    const { sweeper, query } = stub(() => answers.shift() ?? Promise.resolve({ rowCount: 0 }), 100);
    sweeper.start();
    await jest.advanceTimersByTimeAsync(500);
    expect(query).toHaveBeenCalledTimes(1);
    slow.resolve(0);
    await jest.advanceTimersByTimeAsync(100);
    expect(query).toHaveBeenCalledTimes(2);
    await sweeper.stop();
  });

  test('logs how many keys it deleted, and nothing when it deleted none', async () => {
    const { sweeper, info, warn } = stub(rowCounts(0, 0, 5, 0), 100);
    sweeper.start();
    await jest.advanceTimersByTimeAsync(200);
    expect(info).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(100);
    expect(info.mock.calls).toEqual([[{ deleted: 5 }, 'expired idempotency keys deleted']]);
    await jest.advanceTimersByTimeAsync(100);
    expect(info).toHaveBeenCalledTimes(1);
    expect(warn).not.toHaveBeenCalled();
    await sweeper.stop();
  });

  test('a failed sweep is logged with its error and the next interval sweeps again', async () => {
    const failure = new Error('fake connection reset');
    let calls = 0;
    const { sweeper, query, info, warn } = stub(() => (calls++ === 0 ? Promise.reject(failure) : Promise.resolve({ rowCount: 2 })), 100);
    sweeper.start();
    await jest.advanceTimersByTimeAsync(100);
    expect(warn.mock.calls).toEqual([[{ err: failure }, 'idempotency key sweep failed; retrying next interval']]);
    await jest.advanceTimersByTimeAsync(100);
    expect(query).toHaveBeenCalledTimes(2);
    expect(info.mock.calls).toEqual([[{ deleted: 2 }, 'expired idempotency keys deleted']]);
    await sweeper.stop();
  });

  test('stop() waits for the sweep in progress, then no other starts', async () => {
    const slow = pending();
    const { sweeper, query } = stub(() => slow.promise, 100);
    sweeper.start();
    await jest.advanceTimersByTimeAsync(100);
    let stopped = false;
    const stopping = sweeper.stop().then(() => {
      stopped = true;
    });
    await jest.advanceTimersByTimeAsync(1000);
    expect(stopped).toBe(false);
    slow.resolve(0);
    await stopping;
    expect(stopped).toBe(true);
    await jest.advanceTimersByTimeAsync(1000);
    expect(query).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('stop() resolves when the sweep in progress fails (the failure is logged, not thrown)', async () => {
    const slow = pending();
    const { sweeper, warn } = stub(() => slow.promise, 100);
    sweeper.start();
    await jest.advanceTimersByTimeAsync(100);
    const stopping = sweeper.stop();
    slow.reject(new Error('fake connection reset'));
    await expect(stopping).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(1);
  });

  test('stop() before start() or twice is harmless', async () => {
    const { sweeper, query } = stub(undefined, 100);
    await expect(sweeper.stop()).resolves.toBeUndefined();
    sweeper.start();
    await sweeper.stop();
    await sweeper.stop();
    await jest.advanceTimersByTimeAsync(1000);
    expect(query).not.toHaveBeenCalled();
  });
});
