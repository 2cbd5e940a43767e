import type { TraceScorer } from '../inference/trace-scorer.js';
import { SpecResolutionError } from '../scoring/input-errors.js';
import { rowFromAttributes } from '../scoring/inputs.js';
import { copyObserved, markObserved, type Observed } from '../scoring/observed.js';
import type { AttributeValue } from '../scoring/python-float.js';
import type { TraceScore } from '../scoring/residuals.js';
import { CaseLimitError, UnknownCaseError } from './case-errors.js';
import type { CaseState, CaseStore } from './case-store.js';

export interface CaseEvent {
  name: string;
  timestamp?: number | string | undefined;
  attributes?: Record<string, AttributeValue> | undefined;
}

export interface Evaluation extends TraceScore {
  case_id: string;
  n_events: number;
  closed: boolean;
}

/** Why a case cannot be scored yet (the spec needs an attribute no event has supplied, or one that is not numeric). */
export interface ScoreProblem {
  reason: SpecResolutionError['reason'];
  attribute: string;
  place: string;
  message: string;
}

export interface Acknowledgement {
  case_id: string;
  n_events: number;
  /** Present when scoring was asked for but the case cannot be scored yet. */
  not_scored?: ScoreProblem;
}

export interface Rejection {
  case_id: string;
  rejected: { limit: CaseLimitError['limit']; message: string };
}

export type StreamItem = Evaluation | Acknowledgement | Rejection;

export type EventOutcome = { kind: 'acknowledged'; ack: Acknowledgement } | { kind: 'evaluated'; evaluation: Evaluation };

interface Snapshot {
  caseId: string;
  nEvents: number;
  row: Float32Array;
  observed: Observed;
}

export function scoreProblem(error: SpecResolutionError): ScoreProblem {
  return { reason: error.reason, attribute: error.attribute, place: error.place, message: error.message };
}

/**
 * PETRA's StreamingEvaluator (README 1e) over a bounded case store. State changes happen synchronously when an event
 * is acknowledged, and a score is computed from a snapshot taken at that moment, so concurrent requests for one case
 * never lose updates and a scored reply reflects exactly the events acknowledged before it.
 */
export class StreamingEvaluator {
  constructor(
    private readonly store: CaseStore,
    private readonly scorer: TraceScorer,
  ) {}

  get openCases(): number {
    return this.store.size;
  }

  /** Open case ids, sorted, for paging through them. */
  listCases(limit: number, after?: string): string[] {
    return this.store.ids(limit, after);
  }

  /** Buffers one event: creates the case on first sight, marks its label, merges its attributes (latest wins). */
  append(caseId: string, event: CaseEvent): CaseState {
    const column = this.scorer.net.labelColumn.get(event.name);
    const mark = column === undefined ? (o: Observed) => o : (o: Observed) => markObserved(o, column);
    return this.store.record(caseId, mark, event.attributes).state;
  }

  async onEvent(caseId: string, event: CaseEvent, score: boolean): Promise<EventOutcome> {
    const state = this.append(caseId, event);
    if (!score) return { kind: 'acknowledged', ack: { case_id: caseId, n_events: state.nEvents } };
    const snapshot = this.trySnapshot(caseId, state);
    if ('problem' in snapshot) return { kind: 'acknowledged', ack: { case_id: caseId, n_events: state.nEvents, not_scored: snapshot.problem } };
    return { kind: 'evaluated', evaluation: await this.evaluate(snapshot, false) };
  }

  /**
   * PETRA's `process_stream`: events in order; with scoring, one evaluation (or the reason there is none) per event,
   * all scored in one run. An event refused by a case limit gets a rejection entry and the rest go on.
   */
  async processStream(events: readonly (CaseEvent & { case_id: string })[], score: boolean): Promise<StreamItem[]> {
    const items: StreamItem[] = [];
    const pending: { index: number; snapshot: Snapshot }[] = [];
    for (const event of events) {
      let state: CaseState;
      try {
        state = this.append(event.case_id, event);
      } catch (error) {
        if (!(error instanceof CaseLimitError)) throw error;
        items.push({ case_id: event.case_id, rejected: { limit: error.limit, message: error.message } });
        continue;
      }
      const ack: Acknowledgement = { case_id: event.case_id, n_events: state.nEvents };
      if (score) {
        const snapshot = this.trySnapshot(event.case_id, state);
        if ('problem' in snapshot) ack.not_scored = snapshot.problem;
        else pending.push({ index: items.length, snapshot });
      }
      items.push(ack);
    }
    if (pending.length === 0) return items;
    const width = this.scorer.net.inputs.length;
    const rows = new Float32Array(pending.length * width);
    pending.forEach(({ snapshot }, i) => rows.set(snapshot.row, i * width));
    const scores = await this.scorer.scoreMany(rows, pending.map(({ snapshot }) => snapshot.observed));
    pending.forEach(({ index, snapshot }, i) => {
      items[index] = { case_id: snapshot.caseId, n_events: snapshot.nEvents, ...scores[i]!, closed: false };
    });
    return items;
  }

  /** Scores without closing. Throws UnknownCaseError or SpecResolutionError. */
  async scoreCase(caseId: string): Promise<Evaluation> {
    return this.evaluate(this.snapshot(caseId, this.mustGet(caseId)), false);
  }

  /** Scores with `closed: true` and frees the case; a case that cannot be scored stays open (PETRA). */
  async closeCase(caseId: string): Promise<Evaluation> {
    const snapshot = this.snapshot(caseId, this.mustGet(caseId));
    this.store.delete(caseId);
    return this.evaluate(snapshot, true);
  }

  private mustGet(caseId: string): CaseState {
    const state = this.store.get(caseId);
    if (state === undefined) throw new UnknownCaseError(caseId);
    return state;
  }

  private snapshot(caseId: string, state: CaseState): Snapshot {
    return { caseId, nEvents: state.nEvents, row: rowFromAttributes(this.scorer.net, state.attributes), observed: copyObserved(state.observed) };
  }

  private trySnapshot(caseId: string, state: CaseState): Snapshot | { problem: ScoreProblem } {
    try {
      return this.snapshot(caseId, state);
    } catch (error) {
      if (error instanceof SpecResolutionError) return { problem: scoreProblem(error) };
      throw error;
    }
  }

  private async evaluate(snapshot: Snapshot, closed: boolean): Promise<Evaluation> {
    const score = await this.scorer.score(snapshot.row, snapshot.observed);
    return { case_id: snapshot.caseId, n_events: snapshot.nEvents, ...score, closed };
  }
}
