import type { AlertRecord } from './alert-record.js';
import type { EvaluationRecord, TransitionNames } from './evaluation-record.js';
import type { BusEvent, BusEventType, BusPayload, GapEvent, SnapshotEvent } from './events.js';
import { describeFilter, readsAlertsOnly, type LiveFilter } from './filter.js';
import { EventRing } from './ring.js';
import { sseFrame } from './sse.js';
import { Subscriber, type DisconnectReason, type SseSink } from './subscriber.js';

/** What the live view counts; the plugin maps it onto the service's Prometheus metrics. */
export interface LiveMetricsSink {
  published(type: BusEventType): void;
  dropped(type: BusEventType, count: number): void;
  subscribers(count: number): void;
  disconnected(reason: DisconnectReason): void;
}

/** The two pino methods the live view logs with. */
export interface LiveLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export const NO_METRICS: LiveMetricsSink = { published: () => {}, dropped: () => {}, subscribers: () => {}, disconnected: () => {} };
export const NO_LOG: LiveLogger = { info: () => {}, warn: () => {}, error: () => {} };

export interface LiveBusOptions {
  ringSize: number;
  /** Alerts kept after they leave the ring, so that a reader of alerts alone can resume further back (default 0). */
  alertHistory?: number;
  /**
   * Event ids start after this one (default 0). The service starts them at a random number of its own
   * (randomFirstId), so that ids are unique to a server instance: a client resuming with an id from before a restart,
   * or from another replica, gets a gap and a snapshot instead of a replay of unrelated events that carry its numbers.
   */
  firstIdAfter?: number;
  maxSubscribers: number;
  /** Events a subscriber may fall behind the bus head while its connection is blocked... */
  subscriberBuffer: number;
  /**
   * ...for longer than this many milliseconds (default 0: not at all). One request can publish thousands of events in
   * one synchronous stretch, during which no connection drains: a grace lets a reader that keeps reading catch up.
   */
  subscriberGraceMs?: number;
  metrics?: LiveMetricsSink;
  log?: LiveLogger;
  now?: () => number;
  /** The served net's transitions, for the `top` list of evaluation events. */
  transitions?: TransitionNames;
  /** Makes an alert record (the ring's slots reuse theirs); without it the bus carries no alerts. */
  newAlert?: () => AlertRecord;
}

export interface ResumeRequest {
  /** The client's Last-Event-ID (header or query), as sent. */
  lastEventId?: string | undefined;
  /** Send a snapshot first when not resuming (default true). */
  snapshot?: boolean | undefined;
}

/** Builds the snapshot a new connection starts with, as of bus event `headId`; `subscribers` counts that connection. */
export type SnapshotBuilder = (headId: number, filter: LiveFilter, subscribers: number) => SnapshotEvent;

/**
 * The in-process event bus: numbers and stamps events, keeps them in the ring, and hands them to subscribers.
 * Publishing is synchronous and O(subscribers): each subscriber is only told that the head moved (a comparison, and a
 * disconnect for one that stays blocked too long); frames are written in one batch per tick, or at once for a
 * subscriber that has fallen `pumpEvery` events behind during a burst.
 */
export class LiveBus {
  readonly ring: EventRing;
  private readonly subscribers = new Set<Subscriber>();
  private readonly metrics: LiveMetricsSink;
  private readonly log: LiveLogger;
  private readonly now: () => number;
  private readonly pumpEvery: number;
  private flushScheduled = false;
  private serial = 0;
  // Many events share a millisecond under load (a batch publishes one per item); format its timestamp once.
  private stampedAt = Number.NaN;
  private stamp = '';

  constructor(private readonly options: LiveBusOptions) {
    this.ring = new EventRing(options.ringSize, options.transitions, options.newAlert, options.firstIdAfter, options.alertHistory);
    this.metrics = options.metrics ?? NO_METRICS;
    this.log = options.log ?? NO_LOG;
    this.now = options.now ?? Date.now;
    this.pumpEvery = Math.max(1, Math.min(512, Math.floor(options.ringSize / 4), options.subscriberBuffer));
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  get latestId(): number {
    return this.ring.latestId;
  }

  hasRoom(): boolean {
    return this.subscribers.size < this.options.maxSubscribers;
  }

  /** Numbers, stamps, stores and announces one event; returns it as published. Never throws for subscriber trouble. */
  publish<E extends BusEvent>(payload: BusPayload<E>): E {
    // type, id and ts first in the JSON, then the payload's fields.
    const now = this.now();
    if (now !== this.stampedAt) {
      this.stampedAt = now;
      this.stamp = new Date(now).toISOString();
    }
    const event = Object.assign({ type: payload.type, id: this.ring.nextId, ts: this.stamp }, payload) as unknown as E;
    this.ring.push(event);
    this.announce(event.type);
    return event;
  }

  /**
   * The record the next evaluation is written into (numbered, and stamped now or at `atMs`), so publishing a score
   * allocates nothing. Fill it, then call `evaluationWritten()`, which stores it in the ring; it stays readable until
   * the next call.
   */
  nextEvaluation(atMs: number = this.now()): EvaluationRecord {
    const record = this.ring.pendingEvaluation();
    record.tsMs = atMs;
    return record;
  }

  /** Stores the evaluation written into `nextEvaluation()`'s record and tells the subscribers. */
  evaluationWritten(): void {
    this.ring.commitEvaluation();
    this.announce('evaluation');
  }

  /** The record the next alert is written into (numbered and stamped here); call `alertWritten()` once it is filled. */
  nextAlert(): AlertRecord {
    const alert = this.ring.pushAlert();
    alert.tsMs = this.now();
    return alert;
  }

  /** Tells the subscribers about the alert just written into `nextAlert()`'s record. */
  alertWritten(): void {
    this.announce('alert');
  }

  /** Counts the event just stored and tells the subscribers the head moved. */
  private announce(type: BusEventType): void {
    this.metrics.published(type);
    if (this.subscribers.size === 0) return;
    const head = this.ring.latestId;
    for (const subscriber of this.subscribers) {
      if (subscriber.blocked) {
        const backlog = subscriber.backlog(head);
        if (backlog > subscriber.maxBacklog) subscriber.maxBacklog = backlog;
        if (backlog > this.options.subscriberBuffer) this.overBuffer(subscriber, backlog);
      } else if (head - subscriber.cursor >= this.pumpEvery) {
        this.pump(subscriber);
      }
    }
    this.scheduleFlush();
  }

  /**
   * Attaches a connection: resumes it after Last-Event-ID when the ring still holds everything after that id, else
   * (an id older than the ring, or one this server never issued) writes a `gap` and a snapshot; a connection without
   * Last-Event-ID starts with a snapshot. Everything after is live. Call `hasRoom()` first.
   */
  subscribe(sink: SseSink, filter: LiveFilter, resume: ResumeRequest, buildSnapshot: SnapshotBuilder, preamble = ''): Subscriber {
    const head = this.ring.latestId;
    const serial = ++this.serial;
    let start = head;
    let opening = preamble;
    let mode: 'resume' | 'snapshot' | 'gap' | 'live' = 'live';
    if (resume.lastEventId !== undefined) {
      const requested = /^\d{1,16}$/.test(resume.lastEventId.trim()) ? Number(resume.lastEventId.trim()) : undefined;
      const alertsOnly = readsAlertsOnly(filter);
      if (requested !== undefined && this.ring.canResumeAfter(requested, alertsOnly)) {
        start = requested;
        mode = 'resume';
      } else {
        const gap: GapEvent = {
          type: 'gap',
          id: head,
          ts: new Date(this.now()).toISOString(),
          requested: resume.lastEventId,
          ...(this.ring.size > 0 ? { oldest: alertsOnly ? Math.min(this.ring.oldestId, this.ring.alertHistory.complete + 1) : this.ring.oldestId } : {}),
          // Below this server's first id: issued by another instance (before a restart, or another replica).
          reason: requested !== undefined && requested >= this.ring.startsAfter && requested < this.ring.oldestId ? 'expired' : 'unknown',
        };
        opening += sseFrame(gap) + sseFrame(buildSnapshot(head, filter, this.subscribers.size + 1));
        mode = 'gap';
      }
    } else if (resume.snapshot !== false) {
      opening += sseFrame(buildSnapshot(head, filter, this.subscribers.size + 1));
      mode = 'snapshot';
    }
    const subscriber = new Subscriber(serial, sink, filter, start, head, (s) => this.pump(s), this.now);
    this.subscribers.add(subscriber);
    this.metrics.subscribers(this.subscribers.size);
    this.log.info({ subscriber: serial, mode, last_event_id: resume.lastEventId, head, replay: head - start, filter: describeFilter(filter), subscribers: this.subscribers.size }, 'live subscriber connected');
    if (opening !== '') subscriber.writeRaw(opening);
    this.pump(subscriber);
    return subscriber;
  }

  /** The connection went away (client closed it, or the server is ending it). */
  unsubscribe(subscriber: Subscriber, reason: DisconnectReason): void {
    if (!this.subscribers.delete(subscriber)) return;
    subscriber.close(reason);
    this.metrics.subscribers(this.subscribers.size);
    this.metrics.disconnected(reason);
    this.log.info({ subscriber: subscriber.serial, reason, sent: subscriber.sent, subscribers: this.subscribers.size }, 'live subscriber disconnected');
  }

  /** A heartbeat on every stream idle for `idleMs` (Subscriber.heartbeat). */
  heartbeat(idleMs: number): void {
    const now = this.now();
    for (const subscriber of this.subscribers) subscriber.heartbeat(idleMs, now);
  }

  /** Ends every stream (shutdown): each ends cleanly and its client may reconnect to the next server. */
  closeAll(): void {
    for (const subscriber of [...this.subscribers]) this.unsubscribe(subscriber, 'shutdown');
  }

  /** Per-subscriber numbers, for tests and debugging. */
  subscriberStats(): { serial: number; cursor: number; blocked: boolean; sent: number; maxBacklog: number; maxWritable: number }[] {
    return [...this.subscribers].map((s) => ({ serial: s.serial, cursor: s.cursor, blocked: s.blocked, sent: s.sent, maxBacklog: s.maxBacklog, maxWritable: s.maxWritable }));
  }

  private pump(subscriber: Subscriber): void {
    if (subscriber.closed) return;
    if (!subscriber.pump(this.ring)) this.disconnect(subscriber, 'overflow', 'fell further behind than the ring holds (--live-ring-size)');
    else if (subscriber.overBufferSince !== undefined && subscriber.backlog(this.ring.latestId) <= this.options.subscriberBuffer) subscriber.overBufferSince = undefined;
  }

  /**
   * A blocked subscriber more than the buffer behind: cut off once it has been so for longer than the grace, or at
   * once when the ring no longer holds its next event (waiting would only end in a gap).
   */
  private overBuffer(subscriber: Subscriber, backlog: number): void {
    const { subscriberBuffer, subscriberGraceMs = 0 } = this.options;
    if (!this.ring.canResumeAfter(subscriber.cursor, subscriber.alertsOnly)) {
      this.disconnect(subscriber, 'overflow', 'fell further behind than the ring holds (--live-ring-size)');
      return;
    }
    const now = this.now();
    subscriber.overBufferSince ??= now;
    if (now - subscriber.overBufferSince >= subscriberGraceMs) {
      this.disconnect(subscriber, 'overflow', `blocked with ${backlog} events unsent, more than --live-subscriber-buffer ${subscriberBuffer} for ${now - subscriber.overBufferSince} ms (--live-subscriber-grace ${subscriberGraceMs})`);
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      for (const subscriber of this.subscribers) if (!subscriber.blocked) this.pump(subscriber);
    });
  }

  private disconnect(subscriber: Subscriber, reason: DisconnectReason, why: string): void {
    if (!this.subscribers.has(subscriber)) return;
    for (const [type, count] of subscriber.undelivered(this.ring)) this.metrics.dropped(type, count);
    this.log.warn({ subscriber: subscriber.serial, reason, why, cursor: subscriber.cursor, head: this.ring.latestId }, 'live subscriber cut off; it can resume with Last-Event-ID');
    this.unsubscribe(subscriber, reason);
  }
}
