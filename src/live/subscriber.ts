import type { BusEventType } from './events.js';
import { matchesFilter, readsAlertsOnly, type LiveFilter } from './filter.js';
import type { EventRing } from './ring.js';
import { sseFrame } from './sse.js';

/** Where a subscriber's frames go: an HTTP response in the service, anything writable in tests. */
export interface SseSink {
  /** Returns false once the sink's own buffer is full; 'drain' follows when it has room again. */
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
  removeListener(event: 'drain', listener: () => void): unknown;
  end(): void;
  destroy(): void;
  readonly writableLength: number;
  /** The connection, when the sink has one of its own to reset. */
  readonly socket?: { resetAndDestroy(): unknown } | null;
}

export const DISCONNECT_REASONS = ['client_closed', 'overflow', 'shutdown'] as const;
export type DisconnectReason = (typeof DISCONNECT_REASONS)[number];

/** Largest chunk assembled from ring frames before it is written. */
const CHUNK_CHARS = 64 * 1024;

/**
 * One /live connection. It owns no copy of the events: its backlog is the stretch of the shared ring between its
 * cursor and the bus head, so the memory it can hold is its sink's buffer (which stops being fed as soon as `write`
 * says it is full) plus nothing. A subscriber whose sink stays blocked while the bus runs more than `bufferLimit`
 * events ahead for longer than its grace is disconnected (by the bus); it resumes later with Last-Event-ID.
 */
export class Subscriber {
  /** Id of the last bus event handed to the sink (or skipped by the filter). */
  cursor: number;
  blocked = false;
  closed = false;
  closeReason: DisconnectReason | undefined;
  /** Bus events written so far (after filtering). */
  sent = 0;
  /** The largest backlog seen at a publish while blocked, in events. */
  maxBacklog = 0;
  /**
   * When (ms) the subscriber, blocked, first fell more than the bus's buffer behind; undefined while it is within it.
   * The bus cuts it off once this is older than its grace: a burst puts even a fast reader far behind for a moment.
   */
  overBufferSince: number | undefined;
  /** The largest sink buffer seen right after a write, in bytes. */
  maxWritable = 0;
  /** A reader of alerts alone, which the ring's alert history can serve once the ring has moved on. */
  readonly alertsOnly: boolean;
  private lastWriteAt: number;
  private waitingForDrain = false;
  private readonly onDrain = () => {
    this.waitingForDrain = false;
    this.blocked = false;
    if (!this.closed) this.onWritable(this);
  };

  constructor(
    readonly serial: number,
    private readonly sink: SseSink,
    readonly filter: LiveFilter,
    /** Id of the last bus event the client already has (its Last-Event-ID, or the snapshot's id). */
    start: number,
    /** Id of the bus head when the subscriber came: the replay before it is in the ring anyway and is not backlog. */
    private readonly headAtStart: number,
    /** Called when a blocked sink has room again. */
    private readonly onWritable: (subscriber: Subscriber) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.cursor = start;
    this.lastWriteAt = now();
    this.alertsOnly = readsAlertsOnly(filter);
  }

  /** Bus events published since the subscriber came that it has not been handed yet. */
  backlog(latestId: number): number {
    return latestId - Math.max(this.cursor, this.headAtStart);
  }

  /** Writes something that is not a bus event (snapshot, gap, retry, heartbeat). */
  writeRaw(chunk: string): void {
    if (this.closed) return;
    this.writeChunk(chunk);
  }

  /**
   * Heartbeat when nothing was written for `idleMs`, so proxies keep the stream open: a comment, and the id of the last
   * event this stream has passed, sent or filtered out. EventSource takes an `id:` without data as its Last-Event-ID and
   * dispatches nothing, so a filtered reader (alerts only) that reconnects resumes from there: without it, it had no id
   * before its first alert, and later one the ring may long have dropped.
   */
  heartbeat(idleMs: number, now: number): void {
    if (this.closed || this.blocked || now - this.lastWriteAt < idleMs) return;
    this.writeChunk(`: heartbeat ${this.cursor}\nid: ${this.cursor}\n\n`);
  }

  /**
   * Hands the sink every event after the cursor, until the sink is full. Returns false when the ring no longer holds
   * the next event (the subscriber fell a whole ring behind) and the caller must disconnect it.
   */
  pump(ring: EventRing): boolean {
    if (this.closed || this.blocked) return true;
    let chunk = '';
    while (this.cursor < ring.latestId) {
      let frame: string;
      const entry = ring.get(this.cursor + 1);
      if (entry !== undefined) {
        this.cursor++;
        if (!matchesFilter(this.filter, entry)) continue;
        frame = entry.frame;
      } else {
        if (!this.alertsOnly || !ring.canResumeAfter(this.cursor, true)) return false;
        // Before the ring: the alerts that left it, one at a time so that a full sink can stop between two.
        const alert = ring.earlierAlertAfter(this.cursor);
        if (alert === undefined) {
          this.cursor = ring.oldestId - 1;
          continue;
        }
        this.cursor = alert.id;
        if (!matchesFilter(this.filter, alert)) continue;
        frame = sseFrame(alert.toEvent());
      }
      chunk += frame;
      this.sent++;
      if (chunk.length >= CHUNK_CHARS) {
        const ok = this.writeChunk(chunk);
        chunk = '';
        if (!ok) break;
      }
    }
    if (chunk !== '') this.writeChunk(chunk);
    return true;
  }

  /** The types of the bus events this subscriber will never receive (its backlog), for the dropped-events metric. */
  undelivered(ring: EventRing): Map<BusEventType, number> {
    const counts = new Map<BusEventType, number>();
    // An alert reader's cursor may be far back in the alert history: count those alerts, then walk only the ring.
    if (this.alertsOnly) {
      for (let alert = ring.earlierAlertAfter(this.cursor); alert !== undefined; alert = ring.earlierAlertAfter(alert.id)) {
        if (matchesFilter(this.filter, alert)) counts.set('alert', (counts.get('alert') ?? 0) + 1);
      }
    }
    for (let id = Math.max(this.cursor + 1, ring.oldestId); id <= ring.latestId; id++) {
      const entry = ring.get(id);
      if (entry === undefined || !matchesFilter(this.filter, entry)) continue;
      counts.set(entry.type, (counts.get(entry.type) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * Ends the stream: gracefully, or (overflow) at once, since a blocked sink would never flush what it holds. A cut
   * connection is reset, not closed: closed, the kernel keeps what the reader left unread (megabytes of send buffer)
   * and goes on offering it, in FIN-WAIT-1, for as long as the reader's window stays shut.
   */
  close(reason: DisconnectReason): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.sink.removeListener('drain', this.onDrain);
    if (reason === 'overflow') {
      const socket = this.sink.socket;
      if (socket) socket.resetAndDestroy();
      else this.sink.destroy();
    } else if (reason === 'shutdown') this.sink.end();
  }

  private writeChunk(chunk: string): boolean {
    const ok = this.sink.write(chunk);
    this.lastWriteAt = this.now();
    if (this.sink.writableLength > this.maxWritable) this.maxWritable = this.sink.writableLength;
    if (!ok) {
      this.blocked = true;
      if (!this.waitingForDrain) {
        this.waitingForDrain = true;
        this.sink.once('drain', this.onDrain);
      }
    }
    return ok;
  }
}
