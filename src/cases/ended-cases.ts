import type { EvictionReason } from './case-store.js';

/** How a case left the store: closed (with its final evaluation), or evicted (idle, capacity, deleted). */
export type Ending<E> = { kind: 'closed'; evaluation: E | undefined; nEvents: number; atMs: number } | { kind: 'evicted'; reason: EvictionReason; nEvents: number; atMs: number };

/**
 * The last `capacity` case ids that ended, and how. A workflow engine retries a close whose answer timed out: the
 * retry gets the same final evaluation instead of a 404 that reads like an id never seen. A request for a case that
 * was evicted is told so. The id is forgotten when a new case opens under it.
 */
export class EndedCases<E> {
  private readonly ended = new Map<string, Ending<E>>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`ended-case memory must be a non-negative integer, got ${capacity}`);
  }

  get size(): number {
    return this.ended.size;
  }

  remember(caseId: string, ending: Ending<E>): void {
    if (this.capacity === 0) return;
    // Re-inserted, so that the Map's order stays the order the cases ended in and the oldest goes first.
    this.ended.delete(caseId);
    this.ended.set(caseId, ending);
    if (this.ended.size > this.capacity) this.ended.delete(this.ended.keys().next().value!);
  }

  forget(caseId: string): void {
    this.ended.delete(caseId);
  }

  lookup(caseId: string): Ending<E> | undefined {
    return this.ended.get(caseId);
  }
}
