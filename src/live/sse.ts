import type { LiveEvent } from './events.js';

/**
 * One Server-Sent Events frame: `id:`, `event:` (the type) and one `data:` line of JSON (JSON.stringify escapes
 * newlines, so the data never spans lines).
 */
export function sseFrame(event: LiveEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** A comment line: ignored by EventSource, but it keeps proxies and idle timeouts from closing the stream. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** Sets how long an EventSource waits before reconnecting. */
export function sseRetry(ms: number): string {
  return `retry: ${Math.round(ms)}\n\n`;
}
