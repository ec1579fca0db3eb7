import { InMemoryIdempotencyStore } from '../src/idempotency';
import type { IdempotencyStore, ReserveOutcome } from '../src/idempotency';
import { createHmac } from 'crypto';
import { tokenize } from '../src/card';
import { IdempotencyConflictError, IdempotencyInProgressError, PaymentService, createPaymentIdGenerator } from '../src/payments';
import { InMemoryPaymentRepository } from '../src/repository';
import { PAYMENT_ID_PATTERN } from '../src/validation';
import type { PaymentRequest } from '../src/validation';
import { CARDS, NOW } from './helpers';

const request: PaymentRequest = { amount: 500, currency: 'USD', card: { number: CARDS.visa, expMonth: 1, expYear: 2030, cvc: '123' } };

function service(repository = new InMemoryPaymentRepository(), idempotency: IdempotencyStore = new InMemoryIdempotencyStore()): PaymentService {
  return new PaymentService({ repository, idempotency, tokenizationKey: 'fake-tokenization-key-for-tests-000', clock: () => NOW });
}

describe('PaymentService', () => {
  test('stores brand, last4 and token only', async () => {
    const repository = new InMemoryPaymentRepository();
    const { payment, replayed } = await service(repository).create('key-00001', request);
    expect(replayed).toBe(false);
    expect(payment).toMatchObject({
      status: 'approved',
      amount: 500,
      currency: 'USD',
      card: { brand: 'visa', last4: '1111' },
      createdAt: NOW.toISOString(),
    });
    expect(JSON.stringify(await repository.findById(payment.id))).not.toContain(CARDS.visa);
    expect(JSON.stringify(await repository.findById(payment.id))).not.toContain('"123"');
  });

  test('GIVEN concurrent requests with one key WHEN created THEN one payment, every caller gets it', async () => {
    const repository = new InMemoryPaymentRepository();
    const svc = service(repository);
    const results = await Promise.all(Array.from({ length: 20 }, () => svc.create('same-key-1', request)));
    expect(new Set(results.map((r) => r.payment.id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(repository.size).toBe(1);
  });

  test('same key with a different body is a conflict, even concurrently', async () => {
    const svc = service();
    const [first, second] = await Promise.allSettled([svc.create('key-00002', request), svc.create('key-00002', { ...request, amount: 501 })]);
    expect(first.status).toBe('fulfilled');
    expect(second).toMatchObject({ status: 'rejected', reason: expect.any(IdempotencyConflictError) });
  });

  test('GIVEN the idempotency store fails after the insert WHEN creating THEN nothing is left stored and the key is free', async () => {
    const repository = new InMemoryPaymentRepository();
    const idempotency = new InMemoryIdempotencyStore();
    jest.spyOn(idempotency, 'complete').mockRejectedValueOnce(new Error('store unavailable'));
    const svc = service(repository, idempotency);
    await expect(svc.create('key-00003', request)).rejects.toThrow('store unavailable');
    expect(repository.size).toBe(0);
    expect(idempotency.size).toBe(0);
    await expect(svc.create('key-00003', request)).resolves.toMatchObject({ replayed: false });
    expect(repository.size).toBe(1);
  });

  test('GIVEN the repository fails WHEN creating THEN the reservation is released', async () => {
    const repository = new InMemoryPaymentRepository();
    const idempotency = new InMemoryIdempotencyStore();
    jest.spyOn(repository, 'insert').mockRejectedValueOnce(new Error('db down'));
    await expect(service(repository, idempotency).create('key-00004', request)).rejects.toThrow('db down');
    expect(idempotency.size).toBe(0);
  });

  test('a key reserved by another task is reported as in progress', async () => {
    const pending: IdempotencyStore = {
      reserve: async (): Promise<ReserveOutcome> => ({ outcome: 'exists', record: { fingerprint: service().fingerprint(request) } }),
      complete: async () => undefined,
      release: async () => undefined,
    };
    await expect(service(new InMemoryPaymentRepository(), pending).create('key-00005', request)).rejects.toBeInstanceOf(IdempotencyInProgressError);
  });

  test('a record pointing at a missing payment is an error, not a new charge', async () => {
    const idempotency = new InMemoryIdempotencyStore();
    const fingerprint = service().fingerprint(request);
    await idempotency.reserve('key-00006', fingerprint);
    await idempotency.complete('key-00006', 'pay_missingmissingmissing0');
    await expect(service(new InMemoryPaymentRepository(), idempotency).create('key-00006', request)).rejects.toThrow(/missing payment/);
  });

  test('in-memory stores refuse inconsistent use', async () => {
    const repository = new InMemoryPaymentRepository();
    const { payment } = await service(repository).create('key-00007', request);
    await expect(repository.insert(payment)).rejects.toThrow(/already exists/);
    await expect(new InMemoryIdempotencyStore().complete('never-reserved', 'pay_x')).rejects.toThrow(/not reserved/);
  });
});

describe('per-request work done once', () => {
  const key = 'fake-tokenization-key-for-tests-000';

  test('tokens and fingerprints are the same HMACs as with the key given as a string (stable across the change)', async () => {
    const { payment } = await service().create('key-stable-1', request);
    expect(payment.card.token).toBe(`tok_${createHmac('sha256', key).update(CARDS.visa).digest('hex')}`);
    expect(payment.card.token).toBe(tokenize(CARDS.visa, key));
    const canonical = JSON.stringify([500, 'USD', CARDS.visa, 1, 2030, '123', null]);
    expect(service().fingerprint(request)).toBe(createHmac('sha256', key).update('idempotency-fingerprint\0').update(canonical).digest('hex'));
  });

  test('payment ids from the pooled generator are well-formed and distinct across block refills', () => {
    const next = createPaymentIdGenerator();
    const ids = Array.from({ length: 1000 }, () => next());
    for (const id of ids) expect(id).toMatch(PAYMENT_ID_PATTERN);
    expect(new Set(ids).size).toBe(ids.length);
    // Two generators never share randomness.
    expect(ids).not.toContain(createPaymentIdGenerator()());
  });
});
