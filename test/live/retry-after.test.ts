import { describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_MS, retryAfterMs } from '../../src/live/retry-after.js';

describe('Retry-After (RFC 9110 §10.2.3)', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');

  it('reads delay-seconds and an HTTP date, at most a minute', () => {
    expect(retryAfterMs('7', now)).toBe(7000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Tue, 01 Dec 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('3600', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs('Tue, 01 Dec 2026 13:00:00 GMT', now)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('a date in the past is no wait; none, or one it cannot read, leaves the backoff', () => {
    expect(retryAfterMs('Tue, 01 Dec 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('-5', now)).toBeUndefined();
  });
});
