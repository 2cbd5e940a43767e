import type { TraceScorer } from '../inference/trace-scorer.js';
import { SpecResolutionError } from '../scoring/input-errors.js';
import { rowFromAttributes } from '../scoring/inputs.js';
import { copyObserved, type Observed } from '../scoring/observed.js';
import type { AttributeValue } from '../scoring/python-float.js';
import type { ScoredRow, TraceScore } from '../scoring/residuals.js';
import { CaseLimitError, CasesSavedError, endingOf, UnknownCaseError } from './case-errors.js';
import type { CaseState, CaseStore, EvictionReason } from './case-store.js';
import { EndedCases } from './ended-cases.js';

export interface CaseEvent {
  name: string;
  timestamp?: number | string | null | undefined;
  attributes?: Record<string, AttributeValue> | null | undefined;
}

/** A case's score: the output row, with the record form built only if something reads it. */
export class Evaluation implements TraceScore {
  constructor(
    readonly case_id: string,
    readonly n_events: number,
    readonly row: ScoredRow,
    readonly closed: boolean,
    /** The answer of an earlier close, given again to a repeated one (its caller timed out and retried). */
    readonly repeated = false,
    /**
     * In a POST /events answer: the event opened a new case under an id that ended lately (how it ended). The other
     * routes say it in a header, as their body is the evaluation alone.
     */
    readonly reopened?: string,
  ) {}

  get trace_score(): number {
    return this.row.trace_score;
  }

  get per_transition_residuals(): Record<string, number> {
    return this.row.toTraceScore().per_transition_residuals;
  }
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
  /** In a POST /events answer, as Evaluation.reopened. */
  reopened?: string;
}

export interface Rejection {
  case_id: string;
  rejected: { limit: CaseLimitError['limit']; message: string };
}

export type StreamItem = Evaluation | Acknowledgement | Rejection;

/** What a streamed event did; `reopened` when it opened a new case under an id that ended lately (how it ended). */
export type EventOutcome = ({ kind: 'acknowledged'; ack: Acknowledgement } | { kind: 'evaluated'; evaluation: Evaluation }) & { reopened?: string };

/** Which call produced an evaluation: POST /cases/:id/events, GET /cases/:id, POST /cases/:id/close, POST /events. */
export type EvaluationSource = 'stream_event' | 'case_score' | 'case_close' | 'events';

export interface EvaluationContext {
  /** The case state that was scored (its identity tells a closed case from a new one under the same id). */
  state: CaseState;
  /** The observed scored columns the score was computed with. */
  observed: Observed;
  /** Wall time of the inference the score came from (shared by all evaluations of one batched run). */
  latencyMs: number;
  source: EvaluationSource;
}

/**
 * Told about every event applied and every evaluation made, synchronously and in order. Implementations must return
 * quickly and never throw: they run on the scoring path (the live view's publisher is one).
 */
export interface EvaluatorObserver {
  onEvent?(caseId: string, state: CaseState): void;
  onEvaluated?(evaluation: Evaluation, context: EvaluationContext): void;
  /**
   * A close has taken the case out of the store and is being scored; its evaluation (or onCloseFailed) follows. Events
   * for the same id meanwhile start a new case, whose onEvent comes before that evaluation.
   */
  onCloseStarted?(caseId: string, state: CaseState): void;
  /**
   * A close whose final evaluation failed (the model failed). `reinstated`: the case is open again, as it was before
   * the close; otherwise it is gone, without an evaluation (a POST /events opened a new case under its id meanwhile, or
   * the open cases were saved for the restart already, this one with them: closesUnderWay).
   */
  onCloseFailed?(caseId: string, state: CaseState, reinstated: boolean): void;
  /**
   * The store evicted the case. Told after every evaluation of it already under way, so that the eviction never
   * precedes the evaluation of an event acknowledged before it.
   */
  onEvict?(caseId: string, state: CaseState, reason: EvictionReason): void;
  /**
   * The store evicted a case whose evaluation is still running: onEvict follows once the last is published. Events for
   * the same id meanwhile start a new case, whose onEvent comes before that onEvict.
   */
  onEvictHeld?(caseId: string, state: CaseState): void;
  /** The case was saved at the last shutdown and put back at startup (--case-state-file), before any request. */
  onRestored?(state: CaseState): void;
}

/** A close whose model run is under way: the case it took out, and whether a POST /events has opened a new case under its id since. */
interface CloseUnderWay {
  readonly state: CaseState;
  superseded: boolean;
}

interface Snapshot {
  caseId: string;
  nEvents: number;
  row: Float32Array;
  observed: Observed;
  state: CaseState;
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
  /**
   * What waits for the last evaluation under way of a state that has left the store: its eviction, told to the
   * observer then, or its close, scored then. One at most: a state leaves the store once.
   */
  private readonly held = new Map<CaseState, () => void>();
  private readonly ended: EndedCases<Evaluation>;
  /** Closes whose model run is under way, by case id: a retry that overtakes one waits for its answer. */
  private readonly closing = new Map<string, Promise<Evaluation>>();
  /**
   * Every close under way (each a value of `closing` while it is the latest of its id): the case it took out, and
   * whether a POST /events has opened a new case under its id since it began. A superseded close that fails does not
   * put its case back, nor is its case saved for the restart: the id is the new case's now, even once that case has
   * left the store too (its own close under way, an eviction); put back, the older case would take the events and the
   * close meant for the newer.
   */
  private readonly closes = new Map<Promise<Evaluation>, CloseUnderWay>();
  /**
   * How the id of the case the last append() opened had ended, if it had lately; read by onEvent right after. A field
   * rather than a second return value: append runs for every streamed event, and an object per event is garbage.
   */
  private reopened: string | undefined;
  /** The open cases were saved for the restart: a change now would be answered and then lost (CasesSavedError). */
  private saved = false;
  /** Why no model run can happen in this process any more (the inference worker stopped): closes are refused with it. */
  private unavailable: Error | undefined;

  constructor(
    private readonly store: CaseStore,
    private readonly scorer: TraceScorer,
    private readonly observer: EvaluatorObserver = {},
    /** How many ended case ids to remember (EndedCases); 0 none. */
    endedCaseMemory = 0,
    /**
     * A close of a case closed moments ago answers its evaluation again (not PETRA, whose close of a closed case
     * answers None: a 404). For engines that retry a close whose answer timed out.
     */
    private readonly repeatCloses = false,
  ) {
    this.ended = new EndedCases(endedCaseMemory);
  }

  /** The store's evictions come through here (the plugin wires them), to keep them after the evaluations before them. */
  evicted(caseId: string, state: CaseState, reason: EvictionReason): void {
    this.ended.remember(caseId, { kind: 'evicted', reason, nEvents: state.nEvents, atMs: Date.now() });
    if (state.scoring === 0) {
      this.observer.onEvict?.(caseId, state, reason);
      return;
    }
    this.observer.onEvictHeld?.(caseId, state);
    this.held.set(state, () => this.observer.onEvict?.(caseId, state, reason));
  }

  get openCases(): number {
    return this.store.size;
  }

  /** The open cases' states, least recently active first. */
  openStates(): Iterable<CaseState> {
    return this.store.byRecency();
  }

  /** From now on events, closes and deletes are refused (CasesSavedError): the open cases have been saved. */
  markSaved(): void {
    this.saved = true;
  }

  /**
   * The cases whose close is under way and would be put back should it fail (not superseded): still open to their
   * callers, who have no answer yet. A save at a shutdown that timed out writes them with the open cases; the close
   * then cannot answer (the process exits, or markSaved has it answer 503), so the caller's retry closes the case at
   * the restarted instance rather than getting a 404 for a case whose events were lost.
   */
  closesUnderWay(): CaseState[] {
    const states: CaseState[] = [];
    for (const close of this.closes.values()) if (!close.superseded) states.push(close.state);
    return states;
  }

  /**
   * No model run can happen any more (the service failed and shuts down to be restarted): a close, or an event or a
   * POST /events to be scored, from now on is refused with `error` before it changes the store, so the case stays as it
   * was, for --case-state-file to keep, and the caller's retry finds it so at the restarted instance. A close under way
   * at the failure puts its case back as it fails (closeCase). Unscored events need no model and are still applied.
   */
  modelUnavailable(error: Error): void {
    this.unavailable ??= error;
  }

  /** Open case ids, sorted, for paging through them. */
  listCases(limit: number, after?: string): string[] {
    return this.store.ids(limit, after);
  }

  /** Buffers one event: creates the case on first sight, marks its label, merges its attributes (latest wins). */
  append(caseId: string, event: CaseEvent): CaseState {
    if (this.saved) throw new CasesSavedError();
    const state = this.store.record(caseId, this.scorer.net.labelColumn.get(event.name), event.attributes ?? undefined);
    // A new case under an id that ended: a close of it is a close of this one now.
    this.reopened = undefined;
    if (state.nEvents === 1 && this.closing.size > 0) {
      const underWay = this.closing.get(caseId);
      if (underWay !== undefined) {
        this.closes.get(underWay)!.superseded = true;
        // Its ending is not remembered until the run ends; the new case lacks its events all the same.
        this.reopened = 'closed';
      }
    }
    if (state.nEvents === 1 && this.ended.size > 0) {
      const ended = this.ended.lookup(caseId);
      if (ended !== undefined) {
        this.reopened = endingOf(ended);
        this.ended.forget(caseId);
      }
    }
    this.observer.onEvent?.(caseId, state);
    return state;
  }

  async onEvent(caseId: string, event: CaseEvent, score: boolean): Promise<EventOutcome> {
    for (let closing = this.afterClose(caseId); closing !== undefined; closing = this.afterClose(caseId)) await closing;
    // Refused before it is applied: the caller's retry, at another instance or the restarted one, would count it twice.
    if (score && this.unavailable !== undefined) throw this.unavailable;
    const state = this.append(caseId, event);
    // Read at once: another request's append may set it again during this one's model run.
    const reopened = this.reopened;
    let outcome: EventOutcome;
    if (!score) outcome = { kind: 'acknowledged', ack: { case_id: caseId, n_events: state.nEvents } };
    else {
      const snapshot = this.trySnapshot(state);
      if ('problem' in snapshot) outcome = { kind: 'acknowledged', ack: { case_id: caseId, n_events: state.nEvents, not_scored: snapshot.problem } };
      else outcome = { kind: 'evaluated', evaluation: await this.evaluate(snapshot, false, 'stream_event') };
    }
    if (reopened !== undefined) outcome.reopened = reopened;
    return outcome;
  }

  /**
   * PETRA's `process_stream`: events in order; with scoring, one evaluation (or the reason there is none) per event,
   * all scored in one run. An event refused by a case limit gets a rejection entry and the rest go on.
   */
  async processStream(events: readonly (CaseEvent & { case_id: string })[], score: boolean): Promise<StreamItem[]> {
    if (score && this.unavailable !== undefined) throw this.unavailable;
    const items: StreamItem[] = [];
    const pending: { index: number; snapshot: Snapshot; reopened: string | undefined }[] = [];
    let published = 0;
    try {
      for (const event of events) {
        let state: CaseState;
        try {
          state = this.append(event.case_id, event);
        } catch (error) {
          if (!(error instanceof CaseLimitError)) throw error;
          items.push({ case_id: event.case_id, rejected: { limit: error.limit, message: error.message } });
          continue;
        }
        // Read at once, as onEvent does: the next append sets it again.
        const reopened = this.reopened;
        const ack: Acknowledgement = { case_id: event.case_id, n_events: state.nEvents };
        if (score) {
          const snapshot = this.trySnapshot(state);
          if ('problem' in snapshot) ack.not_scored = snapshot.problem;
          else {
            pending.push({ index: items.length, snapshot, reopened });
            // A later event of this request may evict the case: its eviction then waits for this evaluation.
            state.scoring++;
          }
        }
        if (reopened !== undefined) ack.reopened = reopened;
        items.push(ack);
      }
      if (pending.length === 0) return items;
      const width = this.scorer.net.inputs.length;
      const rows = new Float32Array(pending.length * width);
      pending.forEach(({ snapshot }, i) => rows.set(snapshot.row, i * width));
      const started = performance.now();
      const scores = await this.scorer.scoreRows(rows, pending.map(({ snapshot }) => snapshot.observed));
      const latencyMs = performance.now() - started;
      for (const { index, snapshot, reopened } of pending) {
        const evaluation = new Evaluation(snapshot.caseId, snapshot.nEvents, scores[published]!, false, false, reopened);
        items[index] = evaluation;
        this.observer.onEvaluated?.(evaluation, { state: snapshot.state, observed: snapshot.observed, latencyMs, source: 'events' });
        published++;
        // Right after the case's last evaluation here: its held eviction, and a case reopened under its id after it.
        this.published(snapshot.state);
      }
      return items;
    } finally {
      // A failed run: the evaluations not published release their holds all the same.
      for (const { snapshot } of pending.slice(published)) this.published(snapshot.state);
    }
  }

  /**
   * An evaluation of `state` is published (or failed): an eviction or a close held for it goes on once the last is.
   * Within one POST /events a later event can evict a case scored by an earlier one; between requests, other requests
   * can evict a case during its model run when --max-open-cases is small beside the traffic, and a close can overtake
   * a POST /events whose model runs it queued behind.
   */
  private published(state: CaseState): void {
    if (--state.scoring > 0) return;
    const next = this.held.get(state);
    if (next === undefined) return;
    this.held.delete(state);
    next();
  }

  /** Settles once the last evaluation under way of `state`, which has left the store (so no more begin), is published. */
  private afterScoring(state: CaseState): Promise<void> {
    return new Promise((resolve) => this.held.set(state, resolve));
  }

  /** Scores without closing. Throws UnknownCaseError or SpecResolutionError. */
  async scoreCase(caseId: string): Promise<Evaluation> {
    for (let waited = this.awaitClose(caseId); waited !== undefined; waited = this.awaitClose(caseId)) {
      const evaluation = await waited.ended;
      if (waited.overtaken()) throw this.closedMeanwhile(caseId, waited.close, evaluation);
    }
    return this.evaluate(this.snapshot(this.mustGet(caseId)), false, 'case_score');
  }

  /**
   * The close of `caseId` under way, if any, as a promise that settles (never rejects) when it has ended; callers ask
   * again after it, as another close may have begun. A request for the id during a close's model run (an event a
   * parallel branch sent late, a GET, a DELETE; not POST /events, whose events apply at once, in order) waits: it then
   * sees the case closed and its ending remembered, so an event opens the new case with `x-petrascore-reopened:
   * closed`, a retried close finds the answer to repeat, and the live feed has the closed case's events first. Callers
   * loop on it in place rather than through a helper: an async helper would add microtask hops, and a request waiting
   * behind the same close would then resume after a close that came later than it (closeCase awaits it directly).
   */
  private afterClose(caseId: string): Promise<unknown> | undefined {
    // No promise to wait on (nor a turn of the event loop) for the usual request: no close of its id under way.
    return this.closing.size === 0 ? undefined : this.closing.get(caseId)?.catch(() => undefined);
  }

  /**
   * afterClose for a request that addresses the case the close took out (a GET, HEAD, DELETE, a retried close): also
   * says whether a POST /events opened a new case under the id after this request came (`overtaken`). That case is
   * newer than the request, which must not act on it: in arrival order the request came before its first event.
   */
  private awaitClose(caseId: string): { ended: Promise<Evaluation | undefined>; close: CloseUnderWay; overtaken: () => boolean } | undefined {
    const underWay = this.closing.size === 0 ? undefined : this.closing.get(caseId);
    if (underWay === undefined) return undefined;
    const close = this.closes.get(underWay)!;
    const supersededBefore = close.superseded;
    return { ended: underWay.catch(() => undefined), close, overtaken: () => !supersededBefore && close.superseded };
  }

  /** The 404 of a request whose case was closed while it waited, a newer case having opened under its id since. */
  private closedMeanwhile(caseId: string, close: CloseUnderWay, evaluation: Evaluation | undefined): UnknownCaseError {
    // A close that failed left no case: its events went with it (the newer case holds the id).
    const error = evaluation === undefined ? new UnknownCaseError(caseId) : new UnknownCaseError(caseId, { kind: 'closed', nEvents: close.state.nEvents, atMs: Date.now() });
    const how = evaluation === undefined ? 'its close failed' : `it was closed, after ${close.state.nEvents} event${close.state.nEvents === 1 ? '' : 's'}`;
    error.message = `the case '${caseId}' this request came for is no longer open: ${how} while the request waited, and a POST /events has opened a newer case under the id since, which this request does not act on`;
    return error;
  }

  /**
   * Scores with `closed: true` and frees the case; a case that cannot be scored stays open (PETRA), and so does one
   * whose model run fails (the caller gets the error). With
   * `repeatCloses`, a close of a case closed moments ago (a retry) answers that close's evaluation again, marked
   * `repeated`, and publishes nothing.
   */
  async closeCase(caseId: string): Promise<Evaluation> {
    const open = this.store.get(caseId);
    if (open === undefined) {
      const waited = this.awaitClose(caseId);
      if (waited !== undefined) {
        const evaluation = await waited.ended;
        // The close waited on was under way at the save, its case saved with the open ones (closesUnderWay).
        if (this.saved) throw new CasesSavedError();
        // A retry of the close just ended: the case a POST /events opened since this request came is not its to close.
        if (waited.overtaken()) {
          if (evaluation !== undefined && this.repeatCloses) return new Evaluation(evaluation.case_id, evaluation.n_events, evaluation.row.detached(), true, true);
          throw this.closedMeanwhile(caseId, waited.close, evaluation);
        }
        // An event that arrived before this close, waiting on the same close, has opened a new case meanwhile (in
        // arrival order this close is that case's), or a close of it has begun (this one repeats it): once more.
        if (this.store.get(caseId) !== undefined || this.closing.has(caseId)) return this.closeCase(caseId);
      }
      const ended = this.ended.lookup(caseId);
      if (ended?.kind === 'closed' && ended.evaluation !== undefined) return ended.evaluation;
      throw this.unknownCase(caseId);
    }
    if (this.saved) throw new CasesSavedError();
    if (this.unavailable !== undefined) throw this.unavailable;
    const snapshot = this.snapshot(open);
    // Deleted before the run: events that arrive for the id meanwhile start a new case instead of joining a closed one.
    this.store.delete(caseId);
    this.observer.onCloseStarted?.(caseId, snapshot.state);
    // After the case's evaluations already under way (a POST /events of more scored events than --max-batch-rows runs
    // beside the queue, so a close that came later could finish first): published after the close, they showed the
    // feed a closed case scored again, alerting each time, and the dashboard a case that never ended.
    const closing = open.scoring === 0 ? this.evaluate(snapshot, true, 'case_close') : this.afterScoring(open).then(() => this.evaluate(snapshot, true, 'case_close'));
    this.closing.set(caseId, closing);
    const close = { state: snapshot.state, superseded: false };
    this.closes.set(closing, close);
    const startedAtMs = Date.now();
    let evaluation: Evaluation;
    try {
      evaluation = await closing;
    } catch (error) {
      // The case stays open, as one that cannot be scored does, for the caller's retry: here, or, when the failure is
      // the inference worker's and stops the service, at the restarted instance (--case-state-file saves it, after
      // this request has ended). Dropped, its events were lost and the retry got a 404.
      const reinstated = !this.saved && !close.superseded && this.store.reinstate(snapshot.state);
      this.observer.onCloseFailed?.(caseId, snapshot.state, reinstated);
      throw error;
    } finally {
      if (this.closing.get(caseId) === closing) this.closing.delete(caseId);
      this.closes.delete(closing);
      this.store.closeEnded();
    }
    // Saved meanwhile as a close under way (closesUnderWay): answered, the restart would have a closed case open.
    // Refused, the caller's retry closes it there.
    if (this.saved && !close.superseded) throw new CasesSavedError();
    // Unless a new case has opened under the id during the run (a close then is that case's), or has already ended
    // too (its ending is the newer one).
    const since = this.ended.lookup(caseId);
    if (this.store.get(caseId) === undefined && !(since !== undefined && since.atMs >= startedAtMs)) {
      // The answer itself only where a repeated close gives it again: on a wide net it is kilobytes a case.
      const kept = this.repeatCloses ? new Evaluation(evaluation.case_id, evaluation.n_events, evaluation.row.detached(), true, true) : undefined;
      this.ended.remember(caseId, { kind: 'closed', evaluation: kept, nEvents: evaluation.n_events, atMs: Date.now() });
    }
    return evaluation;
  }

  /**
   * Drops an open case without scoring it: the way out for a case that cannot be scored (an attribute its spec needs
   * never came) and can take no more events. Published as an eviction (reason `deleted`), after any evaluation of it
   * still under way. Throws UnknownCaseError.
   */
  async discardCase(caseId: string): Promise<{ case_id: string; n_events: number }> {
    for (let waited = this.awaitClose(caseId); waited !== undefined; waited = this.awaitClose(caseId)) {
      const evaluation = await waited.ended;
      if (waited.overtaken()) throw this.closedMeanwhile(caseId, waited.close, evaluation);
    }
    if (this.saved) throw new CasesSavedError();
    const state = this.store.discard(caseId);
    if (state === undefined) throw this.unknownCase(caseId);
    return { case_id: caseId, n_events: state.nEvents };
  }

  /** Throws UnknownCaseError unless the case is open; touches nothing. */
  async mustBeOpen(caseId: string): Promise<void> {
    for (let waited = this.awaitClose(caseId); waited !== undefined; waited = this.awaitClose(caseId)) {
      const evaluation = await waited.ended;
      if (waited.overtaken()) throw this.closedMeanwhile(caseId, waited.close, evaluation);
    }
    this.mustGet(caseId);
  }

  /** The 404 for a case not open, saying how it ended if it did lately. */
  private unknownCase(caseId: string): UnknownCaseError {
    return new UnknownCaseError(caseId, this.ended.lookup(caseId), this.repeatCloses);
  }

  private mustGet(caseId: string): CaseState {
    const state = this.store.get(caseId);
    if (state === undefined) throw this.unknownCase(caseId);
    return state;
  }

  /**
   * The case's own id string (`state.caseId`), not the request's copy of it: the evaluation is kept in the live ring,
   * and a fresh string per event kept there outlives the young generation (measured: most of what a scored event
   * promoted).
   */
  private snapshot(state: CaseState): Snapshot {
    return { caseId: state.caseId, nEvents: state.nEvents, row: rowFromAttributes(this.scorer.net, state.attributes), observed: copyObserved(state.observed), state };
  }

  private trySnapshot(state: CaseState): Snapshot | { problem: ScoreProblem } {
    try {
      return this.snapshot(state);
    } catch (error) {
      if (error instanceof SpecResolutionError) return { problem: scoreProblem(error) };
      throw error;
    }
  }

  private async evaluate(snapshot: Snapshot, closed: boolean, source: EvaluationSource): Promise<Evaluation> {
    const { state } = snapshot;
    // Other requests may evict the case during the run (a closed case has left the store and cannot be).
    state.scoring++;
    try {
      const started = performance.now();
      const score = await this.scorer.scoreRow(snapshot.row, snapshot.observed);
      const evaluation = new Evaluation(snapshot.caseId, snapshot.nEvents, score, closed);
      this.observer.onEvaluated?.(evaluation, { state, observed: snapshot.observed, latencyMs: performance.now() - started, source });
      return evaluation;
    } finally {
      this.published(state);
    }
  }
}
