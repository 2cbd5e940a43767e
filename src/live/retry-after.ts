/** The longest `Retry-After` a webhook retry waits for: a receiver asking for more gets its retry after this. */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Milliseconds a `Retry-After` header (RFC 9110 §10.2.3: delay-seconds, or an HTTP date) asks to wait from `nowMs`, at
 * most MAX_RETRY_AFTER_MS; undefined when there is none or it cannot be read (the backoff applies then).
 */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Math.min(MAX_RETRY_AFTER_MS, Number(value) * 1000);
  // A date has a day or month name (IMF-fixdate and the two obsolete forms RFC 9110 still has recipients read); V8's
  // Date.parse would take "-5" for a year.
  if (!/[A-Za-z]/.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, at - nowMs));
}
