import type { LiveEvent } from './events.js';

/**
 * One Server-Sent Events frame: `id:`, `event:` (the type) and one `data:` line of JSON (JSON.stringify escapes
 * newlines, so the data never spans lines).
 */
export function sseFrame(event: LiveEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Sets how long an EventSource waits before reconnecting. */
export function sseRetry(ms: number): string {
  return `retry: ${Math.round(ms)}\n\n`;
}
