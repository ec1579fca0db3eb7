import { backoffDelay, isTransientAwsError, withRetry } from '../../tools/common/retry';

function awsError(name: string, httpStatusCode?: number): Error {
  const error = new Error(`${name} happened`);
  error.name = name;
  return Object.assign(error, { $metadata: { httpStatusCode } });
}

function netError(code: string): Error {
  return Object.assign(new Error(`socket ${code}`), { code });
}

describe('isTransientAwsError', () => {
  test.each(['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'ServiceUnavailable', 'InternalFailure'])(
    'retries %s',
    (name) => {
      expect(isTransientAwsError(awsError(name, 400))).toBe(true);
    },
  );

  test('retries any 5xx and 429 from the SDK metadata', () => {
    expect(isTransientAwsError(awsError('ServerException', 500))).toBe(true);
    expect(isTransientAwsError(awsError('Whatever', 503))).toBe(true);
    expect(isTransientAwsError(awsError('Whatever', 429))).toBe(true);
  });

  test('retries socket errors, directly or as the cause', () => {
    expect(isTransientAwsError(netError('ECONNRESET'))).toBe(true);
    expect(isTransientAwsError(netError('ETIMEDOUT'))).toBe(true);
    expect(isTransientAwsError(new TypeError('fetch failed', { cause: netError('ECONNRESET') }))).toBe(true);
  });

  test.each([
    ['validation', awsError('ValidationException', 400)],
    ['access denied', awsError('AccessDeniedException', 403)],
    ['not found', awsError('ParameterNotFound', 400)],
    ['plain error', new Error('boom')],
    ['a string', 'ThrottlingException'],
    ['null', null],
  ])('never retries %s', (_label, error) => {
    expect(isTransientAwsError(error)).toBe(false);
  });
});

describe('withRetry', () => {
  test('GIVEN throttling twice WHEN retried THEN returns the result with full-jitter exponential delays', async () => {
    const sleeps: number[] = [];
    const fn = jest
      .fn<Promise<string>, []>()
      .mockRejectedValueOnce(awsError('ThrottlingException', 400))
      .mockRejectedValueOnce(awsError('ThrottlingException', 400))
      .mockResolvedValueOnce('ok');

    const result = await withRetry(fn, { baseDelayMs: 100, maxDelayMs: 1000, sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 });

    expect(result).toBe('ok');
    expect(fn).toHaveBeenCalledTimes(3);
    expect(sleeps).toEqual([50, 100]);
  });

  test('GIVEN a non-retryable error THEN it is thrown at once', async () => {
    const error = awsError('ValidationException', 400);
    const fn = jest.fn<Promise<string>, []>().mockRejectedValue(error);
    const sleep = jest.fn(async () => undefined);

    await expect(withRetry(fn, { sleep })).rejects.toBe(error);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(sleep).not.toHaveBeenCalled();
  });

  test('GIVEN throttling forever THEN gives up after `retries` retries with the last error', async () => {
    const fn = jest.fn<Promise<string>, []>().mockRejectedValue(awsError('ThrottlingException', 400));
    const onRetry = jest.fn();

    await expect(withRetry(fn, { retries: 3, sleep: async () => undefined, onRetry })).rejects.toThrow('ThrottlingException happened');
    expect(fn).toHaveBeenCalledTimes(4);
    expect(onRetry).toHaveBeenCalledTimes(3);
  });

  test('a custom isRetryable decides', async () => {
    const fn = jest.fn<Promise<number>, []>().mockRejectedValueOnce(new Error('flaky')).mockResolvedValueOnce(7);
    await expect(withRetry(fn, { sleep: async () => undefined, isRetryable: () => true })).resolves.toBe(7);
  });

  test('rejects a negative retry count', async () => {
    await expect(withRetry(async () => 1, { retries: -1 })).rejects.toThrow('retries must be an integer >= 0, got: -1');
  });
});

describe('backoffDelay', () => {
  test('doubles per attempt and is capped by maxDelayMs', () => {
    const top = (): number => 0.999999;
    expect(backoffDelay(1, 100, 1000, top)).toBe(99);
    expect(backoffDelay(3, 100, 1000, top)).toBe(399);
    expect(backoffDelay(10, 100, 1000, top)).toBe(999);
    expect(backoffDelay(10, 100, 1000, () => 0)).toBe(0);
  });
});
