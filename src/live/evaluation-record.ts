import type { EvaluationEvent, EvaluationSource, TopTransition } from './events.js';

/** Transition id and label per output column: what turns the record's column numbers back into words. */
export interface TransitionNames {
  readonly ids: readonly string[];
  readonly labels: readonly string[];
}

/** Transitions an evaluation event lists in `top`. */
export const TOP = 3;

/** A case id as published: a batch item's is `<request id>/<index>` (`itemIndex` ≥ 0), built only when read. */
export function publishedCaseId(caseId: string, itemIndex: number): string {
  return itemIndex < 0 ? caseId : `${caseId}/${itemIndex}`;
}

/**
 * One evaluation event kept as plain fields, overwritten in place: the record the publisher fills before the ring
 * stores it as a row of numbers (EvaluationTable), and the copies the snapshot keeps of a case's or lane's latest
 * evaluation. Every score the service computes is published, tens of thousands a second; building an event object with
 * its `top` list for each made young garbage that survived into the ring and cost more than the scoring itself. The
 * event object is built only when a subscriber, a snapshot or a test reads it.
 */
export class EvaluationRecord {
  id = 0;
  /** Publication time, epoch milliseconds. */
  tsMs = 0;
  /** The case id, or for a batch item the request id (see `itemIndex`). */
  caseId = '';
  /**
   * A batch item's index, -1 otherwise: the item's id `<request id>/<index>` is built when read, not per item (a new
   * string per item, kept by the ring, survived into the old generation).
   */
  itemIndex = -1;
  lane = '';
  /** The lane the case was last published under, when this evaluation moved it to another; '' otherwise. */
  previousLane = '';
  source: EvaluationSource = 'anomaly';
  nEvents = 0;
  traceScore = 0;
  closed = false;
  latencyMs = 0;
  alert = false;
  /** How many of the top slots are used (0–3); columns are output columns, largest residual first. */
  topCount = 0;
  column0 = -1;
  column1 = -1;
  column2 = -1;
  residual0 = 0;
  residual1 = 0;
  residual2 = 0;
  activation0 = 0;
  activation1 = 0;
  activation2 = 0;
  /** 1 where the transition was observed (an unexpected one), 0 where it was not (a missing one). */
  observed0: 0 | 1 = 0;
  observed1: 0 | 1 = 0;
  observed2: 0 | 1 = 0;

  /** The evaluated case's id as published. */
  get case_id(): string {
    return publishedCaseId(this.caseId, this.itemIndex);
  }

  /** Who was scored, and how: every field but the score and its `top`. */
  describe(caseId: string, itemIndex: number, lane: string, source: EvaluationSource, nEvents: number, closed: boolean, latencyMs: number): void {
    this.caseId = caseId;
    this.itemIndex = itemIndex;
    this.lane = lane;
    this.previousLane = '';
    this.source = source;
    this.nEvents = nEvents;
    this.closed = closed;
    this.latencyMs = Math.round(latencyMs * 1000) / 1000;
  }

  /** Offers one transition for `top`; call in transition-id order so that ties keep the earlier transition. */
  offerTop(column: number, residual: number, activation: number, observed: 0 | 1): void {
    if (this.topCount === TOP && !(residual > this.residual2)) return;
    if (this.topCount < TOP) this.topCount++;
    let at = this.topCount - 1;
    while (at > 0 && residual > this.residualAt(at - 1)) {
      this.setTop(at, this.columnAt(at - 1), this.residualAt(at - 1), this.activationAt(at - 1), this.observedAt(at - 1));
      at--;
    }
    this.setTop(at, column, residual, activation, observed);
  }

  clearTop(): void {
    this.topCount = 0;
  }

  copyFrom(other: EvaluationRecord): void {
    this.id = other.id;
    this.tsMs = other.tsMs;
    this.caseId = other.caseId;
    this.itemIndex = other.itemIndex;
    this.lane = other.lane;
    this.previousLane = other.previousLane;
    this.source = other.source;
    this.nEvents = other.nEvents;
    this.traceScore = other.traceScore;
    this.closed = other.closed;
    this.latencyMs = other.latencyMs;
    this.alert = other.alert;
    this.topCount = other.topCount;
    this.column0 = other.column0;
    this.column1 = other.column1;
    this.column2 = other.column2;
    this.residual0 = other.residual0;
    this.residual1 = other.residual1;
    this.residual2 = other.residual2;
    this.activation0 = other.activation0;
    this.activation1 = other.activation1;
    this.activation2 = other.activation2;
    this.observed0 = other.observed0;
    this.observed1 = other.observed1;
    this.observed2 = other.observed2;
  }

  /** The event as published on the wire. */
  toEvent(names: TransitionNames): EvaluationEvent {
    const top: TopTransition[] = [];
    if (this.topCount > 0) top.push(topItem(names, this.column0, this.residual0, this.activation0, this.observed0));
    if (this.topCount > 1) top.push(topItem(names, this.column1, this.residual1, this.activation1, this.observed1));
    if (this.topCount > 2) top.push(topItem(names, this.column2, this.residual2, this.activation2, this.observed2));
    return {
      type: 'evaluation',
      id: this.id,
      ts: new Date(this.tsMs).toISOString(),
      case_id: this.case_id,
      lane: this.lane,
      ...(this.previousLane === '' ? {} : { previous_lane: this.previousLane }),
      source: this.source,
      n_events: this.nEvents,
      trace_score: this.traceScore,
      closed: this.closed,
      top,
      latency_ms: this.latencyMs,
      ...(this.alert ? { alert: true as const } : {}),
    };
  }

  private columnAt(slot: number): number {
    return slot === 0 ? this.column0 : slot === 1 ? this.column1 : this.column2;
  }

  private residualAt(slot: number): number {
    return slot === 0 ? this.residual0 : slot === 1 ? this.residual1 : this.residual2;
  }

  private activationAt(slot: number): number {
    return slot === 0 ? this.activation0 : slot === 1 ? this.activation1 : this.activation2;
  }

  private observedAt(slot: number): 0 | 1 {
    return slot === 0 ? this.observed0 : slot === 1 ? this.observed1 : this.observed2;
  }

  private setTop(slot: number, column: number, residual: number, activation: number, observed: 0 | 1): void {
    if (slot === 0) {
      this.column0 = column;
      this.residual0 = residual;
      this.activation0 = activation;
      this.observed0 = observed;
    } else if (slot === 1) {
      this.column1 = column;
      this.residual1 = residual;
      this.activation1 = activation;
      this.observed1 = observed;
    } else {
      this.column2 = column;
      this.residual2 = residual;
      this.activation2 = activation;
      this.observed2 = observed;
    }
  }
}

function topItem(names: TransitionNames, column: number, residual: number, activation: number, observed: 0 | 1): TopTransition {
  return { id: names.ids[column]!, label: names.labels[column]!, residual, activation, observed };
}
