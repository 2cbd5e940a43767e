import type { AlertRecord } from './alert-record.js';
import { EvaluationRecord, type TransitionNames } from './evaluation-record.js';
import type { BusEvent, BusEventType } from './events.js';
import type { FilterSubject } from './filter.js';
import { sseFrame } from './sse.js';

/**
 * One position of the ring, reused each time the ring wraps: it holds a published event object, an alert record, or
 * an evaluation as an EvaluationRecord whose fields are overwritten in place (evaluations are most of the traffic, and
 * publishing one then allocates nothing). The SSE frame is serialised at most once, however many subscribers send it.
 */
export class RingSlot implements FilterSubject {
  id = 0;
  private published: BusEvent | undefined;
  private alert: AlertRecord | undefined;
  /** This slot's own alert record, reused whenever the slot holds an alert again. */
  private alertRecord: AlertRecord | undefined;
  private record: EvaluationRecord | undefined;
  private cachedFrame: string | undefined;

  constructor(
    private readonly names: TransitionNames,
    private readonly newAlert: () => AlertRecord,
  ) {}

  hold(event: BusEvent): void {
    this.id = event.id;
    this.published = event;
    this.alert = undefined;
    this.cachedFrame = undefined;
  }

  /** Makes this slot the alert `id` (its words are built when read); the caller fills the returned record at once. */
  holdAlert(id: number): AlertRecord {
    this.id = id;
    this.published = undefined;
    this.alertRecord ??= this.newAlert();
    this.alert = this.alertRecord;
    this.alert.id = id;
    this.cachedFrame = undefined;
    return this.alert;
  }

  /** Makes this slot the evaluation `id`; the caller fills the returned record before anyone reads the ring. */
  holdEvaluation(id: number): EvaluationRecord {
    this.id = id;
    this.published = undefined;
    this.alert = undefined;
    this.cachedFrame = undefined;
    this.record ??= new EvaluationRecord();
    this.record.id = id;
    this.record.clearTop();
    return this.record;
  }

  get type(): BusEventType {
    return this.published?.type ?? this.alert?.type ?? 'evaluation';
  }

  get lane(): string | undefined {
    const event = this.published;
    if (event === undefined) return this.alert?.lane ?? this.record!.lane;
    return event.type === 'stats' ? undefined : event.lane;
  }

  get case_id(): string | undefined {
    const event = this.published;
    if (event === undefined) return this.alert?.case_id ?? this.record!.case_id;
    return event.type === 'stats' ? undefined : event.case_id;
  }

  get trace_score(): number | undefined {
    const event = this.published;
    if (event === undefined) return this.alert?.trace_score ?? this.record!.traceScore;
    return 'trace_score' in event ? event.trace_score : undefined;
  }

  /** The event as published (an evaluation or alert is built anew on every read). */
  get event(): BusEvent {
    return this.published ?? this.alert?.toEvent() ?? this.record!.toEvent(this.names);
  }

  get frame(): string {
    this.cachedFrame ??= sseFrame(this.event);
    return this.cachedFrame;
  }
}

const NO_NAMES: TransitionNames = { ids: [], labels: [] };
const NO_ALERTS = (): AlertRecord => {
  throw new Error('this ring was made without alert records');
};

/**
 * The last `capacity` bus events. Ids are consecutive (every bus event is stored), so finding the events after an id
 * is arithmetic, not a search.
 */
export class EventRing {
  private readonly slots: (RingSlot | undefined)[];
  private next = 1;

  constructor(
    readonly capacity: number,
    private readonly names: TransitionNames = NO_NAMES,
    /** Makes the record a slot reuses for its alerts (they need the service's explainer for their words). */
    private readonly newAlert: () => AlertRecord = NO_ALERTS,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.slots = new Array<RingSlot | undefined>(capacity);
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

  push(event: BusEvent): void {
    if (event.id !== this.next) throw new Error(`ring expected id ${this.next}, got ${event.id}`);
    this.advance().hold(event);
  }

  /** Stores the next event as an alert record, to be filled by the caller at once. */
  pushAlert(): AlertRecord {
    const id = this.next;
    return this.advance().holdAlert(id);
  }

  /** Stores the next event as an evaluation record, to be filled by the caller at once. */
  pushEvaluation(): EvaluationRecord {
    const id = this.next;
    return this.advance().holdEvaluation(id);
  }

  /** The slot with this id, or undefined when it is not (or no longer) held. */
  get(id: number): RingSlot | undefined {
    if (id < this.oldestId || id > this.latestId) return undefined;
    return this.slots[id % this.capacity];
  }

  /** Whether every event after `id` is still held, so a client that saw `id` can be resumed without a gap. */
  canResumeAfter(id: number): boolean {
    return id >= this.oldestId - 1 && id <= this.latestId;
  }

  private advance(): RingSlot {
    const index = this.next % this.capacity;
    let slot = this.slots[index];
    if (slot === undefined) this.slots[index] = slot = new RingSlot(this.names, this.newAlert);
    this.next++;
    return slot;
  }
}
