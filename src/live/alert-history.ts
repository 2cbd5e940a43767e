import type { AlertRecord } from './alert-record.js';

/**
 * The alerts that have left the event ring, oldest first, so that a reader of alerts alone can resume after an id the
 * ring no longer holds. On a busy server the ring covers seconds while alerts are a small share of its events: a
 * dashboard-less reader (`types=alert`) that reconnected after a few seconds got a gap, though it may have missed no
 * alert at all. Records move here from the ring's slots as they are overwritten (no copy), and the one this drops goes
 * back to the ring for its next alert, so keeping alerts allocates nothing once the history is full.
 */
export class AlertHistory {
  private readonly records: AlertRecord[] = [];
  /** Index of the oldest record once the history is full (it then wraps). */
  private start = 0;
  private droppedThrough: number;

  constructor(
    readonly capacity: number,
    /** Ids start after this one (the ring's). */
    startsAfter: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`alert history capacity must be a non-negative integer, got ${capacity}`);
    this.droppedThrough = startsAfter;
  }

  get size(): number {
    return this.records.length;
  }

  /**
   * Id of the newest alert that has been dropped (the ring's start before any was): every alert after it is still held,
   * here or in the ring. With no history at all this still answers whether any alert left the ring after an id.
   */
  get complete(): number {
    return this.droppedThrough;
  }

  /** Keeps `record`, which the ring is about to overwrite; returns the record dropped to make room, for reuse. */
  keep(record: AlertRecord): AlertRecord | undefined {
    if (this.capacity === 0) {
      this.droppedThrough = record.id;
      return record;
    }
    if (this.records.length < this.capacity) {
      this.records.push(record);
      return undefined;
    }
    const dropped = this.records[this.start]!;
    this.droppedThrough = dropped.id;
    this.records[this.start] = record;
    this.start = (this.start + 1) % this.capacity;
    return dropped;
  }

  /** The oldest held alert with an id above `id`, or undefined; valid until the next `keep()`. */
  firstAfter(id: number): AlertRecord | undefined {
    // Ids increase from `start` round the array: binary search over the logical order.
    const n = this.records.length;
    let low = 0;
    let high = n;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.records[(this.start + middle) % n]!.id <= id) low = middle + 1;
      else high = middle;
    }
    return low < n ? this.records[(this.start + low) % n] : undefined;
  }
}
