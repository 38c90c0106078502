// The buyer page's retry rule, without a browser: a 503 or a failed connection is tried again
// (after the pause the server asked for), anything else is not, and the tries are bounded.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, retrying } from './api.ts';

describe('retrying', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('tries again on 503 and on a failed connection, waiting what the server asked for', async () => {
    const answers: (() => Promise<string>)[] = [
      () => Promise.reject(new ApiError(503, 'service_unavailable', 'retry', { retryAfterSeconds: 2 })),
      () => Promise.reject(new TypeError('Failed to fetch')),
      () => Promise.resolve('made'),
    ];
    const request = vi.fn(() => answers.shift()!());
    const result = retrying(request);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(request).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(request).toHaveBeenCalledTimes(2);
    // No pause asked for: one second per attempt so far.
    await vi.advanceTimersByTimeAsync(2_000);
    await expect(result).resolves.toBe('made');
    expect(request).toHaveBeenCalledTimes(3);
  });

  it('gives up at once on other errors, and after the last attempt on 503s', async () => {
    const refused = vi.fn(() => Promise.reject(new ApiError(409, 'sold_out', 'sold out', undefined)));
    await expect(retrying(refused)).rejects.toMatchObject({ status: 409 });
    expect(refused).toHaveBeenCalledTimes(1);

    const away = vi.fn(() => Promise.reject(new ApiError(503, 'service_unavailable', 'retry', undefined)));
    const result = retrying(away, 3);
    const settled = expect(result).rejects.toMatchObject({ status: 503 });
    await vi.advanceTimersByTimeAsync(10_000);
    await settled;
    expect(away).toHaveBeenCalledTimes(3);
  });
});
