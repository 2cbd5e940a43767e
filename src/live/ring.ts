import { AlertHistory } from './alert-history.js';
import type { AlertRecord } from './alert-record.js';
import { EvaluationRecord, publishedCaseId, type TransitionNames } from './evaluation-record.js';
import { EvaluationTable } from './evaluation-table.js';
import type { BusEvent, BusEventType } from './events.js';
import type { FilterSubject } from './filter.js';
import { sseFrame } from './sse.js';

const EVENT = 0;
const ALERT = 1;
const EVALUATION = 2;

/**
 * What `EventRing.get()` returns: one held event, read where it is stored. The ring has one and repoints it on every
 * `get()`, so it is valid until the next call (readers take an event's fields and frame and move on).
 */
export class RingEntry implements FilterSubject {
  id = 0;
  private index = 0;
  private readonly scratch = new EvaluationRecord();

  constructor(private readonly ring: EventRing) {}

  /** @internal Points this entry at slot `index`, holding event `id`. */
  at(index: number, id: number): this {
    this.index = index;
    this.id = id;
    return this;
  }

  get type(): BusEventType {
    const kind = this.ring.kindAt(this.index);
    return kind === EVALUATION ? 'evaluation' : kind === ALERT ? 'alert' : this.ring.eventAt(this.index)!.type;
  }

  get lane(): string | undefined {
    const kind = this.ring.kindAt(this.index);
    if (kind === EVALUATION) return this.ring.evaluations.lane(this.index);
    if (kind === ALERT) return this.ring.alertAt(this.index)!.lane;
    const event = this.ring.eventAt(this.index)!;
    return event.type === 'stats' ? undefined : event.lane;
  }

  get previous_lane(): string | undefined {
    const kind = this.ring.kindAt(this.index);
    if (kind === EVALUATION) return this.ring.evaluations.previousLane(this.index) || undefined;
    if (kind === ALERT) return undefined;
    const event = this.ring.eventAt(this.index)!;
    return 'previous_lane' in event ? event.previous_lane : undefined;
  }

  get case_id(): string | undefined {
    const kind = this.ring.kindAt(this.index);
    if (kind === EVALUATION) return publishedCaseId(this.ring.evaluations.caseId(this.index), this.ring.evaluations.itemIndex(this.index));
    if (kind === ALERT) return this.ring.alertAt(this.index)!.case_id;
    const event = this.ring.eventAt(this.index)!;
    return event.type === 'stats' ? undefined : event.case_id;
  }

  get trace_score(): number | undefined {
    const kind = this.ring.kindAt(this.index);
    if (kind === EVALUATION) return this.ring.evaluations.traceScore(this.index);
    if (kind === ALERT) return this.ring.alertAt(this.index)!.trace_score;
    const event = this.ring.eventAt(this.index)!;
    return 'trace_score' in event ? event.trace_score : undefined;
  }

  /** The event as published (an evaluation or alert is built anew on every read). */
  get event(): BusEvent {
    const kind = this.ring.kindAt(this.index);
    if (kind === EVALUATION) return this.ring.evaluations.read(this.index, this.id, this.scratch).toEvent(this.ring.names);
    if (kind === ALERT) return this.ring.alertAt(this.index)!.toEvent();
    return this.ring.eventAt(this.index)!;
  }

  /** The SSE frame, serialised once per event however many subscribers send it. */
  get frame(): string {
    return this.ring.frameAt(this.index) ?? this.ring.cacheFrame(this.index, sseFrame(this.event));
  }
}

const NO_NAMES: TransitionNames = { ids: [], labels: [] };
const NO_ALERTS = (): AlertRecord => {
  throw new Error('this ring was made without alert records');
};

/**
 * The last `capacity` bus events. Ids are consecutive (every bus event is stored), so finding the events after an id
 * is arithmetic, not a search. Alerts that leave it go on to its alert history.
 */
export class EventRing {
  /** What each slot holds: EVENT (`events`), ALERT (`alerts`) or EVALUATION (`evaluations`). */
  private readonly kinds: Uint8Array;
  private readonly events: (BusEvent | undefined)[];
  /** Each slot's alert record, made the first time the slot holds an alert and reused after. */
  private readonly alerts: (AlertRecord | undefined)[];
  private readonly frames: (string | undefined)[];
  readonly evaluations: EvaluationTable;
  /** The record the next evaluation is written into before `commitEvaluation()` stores it. */
  private readonly pending = new EvaluationRecord();
  private readonly entry = new RingEntry(this);
  /** The alerts older than the ring's oldest event, for readers of alerts alone. */
  readonly alertHistory: AlertHistory;
  private next: number;

  constructor(
    readonly capacity: number,
    readonly names: TransitionNames = NO_NAMES,
    /** Makes the record a slot reuses for its alerts (they need the service's explainer for their words). */
    private readonly newAlert: () => AlertRecord = NO_ALERTS,
    /** Ids start after this one (the id of a snapshot taken before the first event). */
    readonly startsAfter = 0,
    /** Alerts kept after they leave the ring (AlertHistory). */
    alertHistorySize = 0,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    if (!Number.isSafeInteger(startsAfter) || startsAfter < 0) throw new RangeError(`ring ids must start after a safe non-negative integer, got ${startsAfter}`);
    this.next = startsAfter + 1;
    this.kinds = new Uint8Array(capacity);
    this.events = new Array<BusEvent | undefined>(capacity).fill(undefined);
    this.alerts = new Array<AlertRecord | undefined>(capacity).fill(undefined);
    this.frames = new Array<string | undefined>(capacity).fill(undefined);
    this.evaluations = new EvaluationTable(capacity);
    this.alertHistory = new AlertHistory(alertHistorySize, startsAfter);
  }

  /** Id of the latest event; `startsAfter` before the first. */
  get latestId(): number {
    return this.next - 1;
  }

  /** Id of the oldest event still held; latestId + 1 when empty. */
  get oldestId(): number {
    return Math.max(this.startsAfter + 1, this.next - this.capacity);
  }

  get size(): number {
    return this.next - this.oldestId;
  }

  /** The id the next pushed event will get. */
  get nextId(): number {
    return this.next;
  }

  push(event: BusEvent): void {
    if (event.id !== this.next) throw new Error(`ring expected id ${this.next}, got ${event.id}`);
    const index = this.advance(EVENT);
    this.events[index] = event;
  }

  /** Stores the next event as an alert record, to be filled by the caller at once. */
  pushAlert(): AlertRecord {
    const id = this.next;
    const index = this.advance(ALERT);
    const alert = (this.alerts[index] ??= this.newAlert());
    alert.id = id;
    return alert;
  }

  /**
   * The record to fill with the next evaluation (numbered `nextId`); `commitEvaluation()` then stores it. It stays
   * readable until the next call.
   */
  pendingEvaluation(): EvaluationRecord {
    const record = this.pending;
    record.id = this.next;
    record.clearTop();
    return record;
  }

  /** Stores the record `pendingEvaluation()` returned as the next event. */
  commitEvaluation(): void {
    const id = this.next;
    if (this.pending.id !== id) throw new Error(`ring expected evaluation ${id}, got ${this.pending.id}`);
    this.evaluations.write(this.advance(EVALUATION), this.pending);
  }

  /** The event with this id, or undefined when it is not (or no longer) held; valid until the next `get()`. */
  get(id: number): RingEntry | undefined {
    if (id < this.oldestId || id > this.latestId) return undefined;
    return this.entry.at(id % this.capacity, id);
  }

  /**
   * Whether every event after `id` is still held, so a client that saw `id` can be resumed without a gap; for a reader
   * of alerts alone, every alert after it, in the ring or its alert history.
   */
  canResumeAfter(id: number, alertsOnly = false): boolean {
    if (id > this.latestId) return false;
    return id >= this.oldestId - 1 || (alertsOnly && id >= this.alertHistory.complete);
  }

  /** The oldest alert after `id` that has left the ring, or undefined; valid until the next event is stored. */
  earlierAlertAfter(id: number): AlertRecord | undefined {
    return this.alertHistory.firstAfter(id);
  }

  /** @internal For RingEntry. */
  kindAt(index: number): number {
    return this.kinds[index]!;
  }

  /** @internal For RingEntry. */
  eventAt(index: number): BusEvent | undefined {
    return this.events[index];
  }

  /** @internal For RingEntry. */
  alertAt(index: number): AlertRecord | undefined {
    return this.alerts[index];
  }

  /** @internal For RingEntry. */
  frameAt(index: number): string | undefined {
    return this.frames[index];
  }

  /** @internal For RingEntry. */
  cacheFrame(index: number, frame: string): string {
    this.frames[index] = frame;
    return frame;
  }

  /** Takes the next slot for an event of `kind`, dropping what it held. */
  private advance(kind: number): number {
    const index = this.next % this.capacity;
    if (this.kinds[index] === ALERT) this.alerts[index] = this.alertHistory.keep(this.alerts[index]!);
    this.kinds[index] = kind;
    this.events[index] = undefined;
    this.frames[index] = undefined;
    this.next++;
    return index;
  }
}
