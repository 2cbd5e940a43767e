import type { BusEvent } from './events.js';
import { sseFrame } from './sse.js';

/** One published event and its SSE frame, serialised at most once however many subscribers send it. */
export class RingEntry {
  private cachedFrame: string | undefined;

  constructor(readonly event: BusEvent) {}

  get frame(): string {
    this.cachedFrame ??= sseFrame(this.event);
    return this.cachedFrame;
  }
}

/**
 * The last `capacity` bus events. Ids are consecutive (every bus event is stored), so finding the events after an id
 * is arithmetic, not a search.
 */
export class EventRing {
  private readonly entries: (RingEntry | undefined)[];
  private next = 1;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.entries = new Array<RingEntry | undefined>(capacity);
  }

  /** Id of the latest event; 0 before the first. */
  get latestId(): number {
    return this.next - 1;
  }

  /** Id of the oldest event still held; latestId + 1 when empty. */
  get oldestId(): number {
    return Math.max(1, this.next - this.capacity);
  }

  get size(): number {
    return this.next - this.oldestId;
  }

  /** The id the next pushed event will get. */
  get nextId(): number {
    return this.next;
  }

  push(event: BusEvent): RingEntry {
    if (event.id !== this.next) throw new Error(`ring expected id ${this.next}, got ${event.id}`);
    const entry = new RingEntry(event);
    this.entries[this.next % this.capacity] = entry;
    this.next++;
    return entry;
  }

  /** The entry with this id, or undefined when it is not (or no longer) held. */
  get(id: number): RingEntry | undefined {
    if (id < this.oldestId || id > this.latestId) return undefined;
    return this.entries[id % this.capacity];
  }

  /** Whether every event after `id` is still held, so a client that saw `id` can be resumed without a gap. */
  canResumeAfter(id: number): boolean {
    return id >= this.oldestId - 1 && id <= this.latestId;
  }
}
