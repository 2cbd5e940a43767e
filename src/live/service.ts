import { randomInt } from 'node:crypto';
import type { CaseState, DropReason } from '../cases/case-store.js';
import type { Evaluation, EvaluationContext, EvaluatorObserver } from '../cases/streaming-evaluator.js';
import { labelOf, type Net } from '../scoring/net.js';
import type { Observed } from '../scoring/observed.js';
import type { ColumnScore } from '../scoring/residuals.js';
import { LiveBus, NO_LOG, NO_METRICS, type LiveLogger, type LiveMetricsSink, type ResumeRequest } from './bus.js';
import type { AlertEvent, CaseClosedEvent, CaseEvictedEvent, CaseOpenedEvent, SnapshotEvent, StatsEvent } from './events.js';
import { AlertRecord } from './alert-record.js';
import type { EvaluationRecord } from './evaluation-record.js';
import { Explainer } from './explain.js';
import type { LiveFilter } from './filter.js';
import { LaneResolver, type Attributes } from './lanes.js';
import { LiveState, type LiveCase } from './state.js';
import { StatsTracker } from './stats.js';
import type { SseSink, Subscriber } from './subscriber.js';
import type { AlertWebhooks } from './webhook.js';

export interface LiveServiceOptions {
  net: Net;
  laneAttribute?: string | undefined;
  alertThreshold: number;
  laneThresholds?: ReadonlyMap<string, number>;
  explanationFloor: number;
  ringSize: number;
  /** Alerts kept after they leave the ring, for readers of alerts alone (LiveBusOptions.alertHistory). */
  alertHistory?: number;
  /** Event ids start after this one; default: a random number of its own (LiveBusOptions.firstIdAfter). */
  firstIdAfter?: number;
  maxSubscribers: number;
  subscriberBuffer: number;
  /** Milliseconds a blocked subscriber may stay more than the buffer behind (LiveBusOptions.subscriberGraceMs). */
  subscriberGraceMs?: number;
  metrics?: LiveMetricsSink & { alertRaised(): void };
  log?: LiveLogger;
  now?: () => number;
}

/** A stateless trace as /anomaly receives it (only what the live view looks at). */
export interface TraceLike {
  events: readonly { name: string; attributes?: Attributes | null | undefined }[];
  attributes?: Attributes | null | undefined;
}

/** A scored stateless item of /anomaly/batch: its position in the request, its trace, and its score with the labels observed. */
export interface BatchItemScore {
  readonly index: number;
  readonly trace: TraceLike;
  readonly row: ColumnScore & { readonly observed: Observed };
}

/**
 * Where an instance's event ids start: a random whole number from 2^50 to 2^52. Ids are consecutive from there, so two
 * instances' ids meet only when their starts lie closer than the events they publish: for two replicas publishing a
 * billion events each, about one chance in two million, where starts taken from the clock (milliseconds × 1000) met as
 * soon as one replica had published a thousand events for each millisecond between their starts. A start below 2^52
 * leaves 2^52 ids before 2^53, beyond which a JSON reader no longer holds every whole number exactly.
 */
export function randomFirstId(): number {
  // randomInt draws from a range below 2^48: the high bits and the low four drawn apart.
  return 2 ** 50 + randomInt(0, 3 * 2 ** 46) * 2 ** 4 + randomInt(0, 2 ** 4);
}

/**
 * The live view's publisher: turns what scoring reports (case events, evaluations, evictions, stateless scores) into
 * bus events, keeps the snapshot state and the stats, and raises alerts with their explanation. Every entry point is
 * synchronous, does O(transitions + subscribers) work and never throws into the scoring path.
 */
export class LiveService {
  readonly bus: LiveBus;
  readonly state: LiveState;
  readonly stats: StatsTracker;
  readonly lanes: LaneResolver;
  readonly explainer: Explainer;
  private readonly alertSinks: ((alert: AlertEvent) => void)[] = [];
  /** The --alert-webhook deliveries, when configured (for their queue numbers). */
  webhooks: AlertWebhooks | undefined;
  private readonly log: LiveLogger;
  private readonly metrics: LiveMetricsSink & { alertRaised(): void };
  private readonly now: () => number;
  private readonly laneThresholds: ReadonlyMap<string, number>;
  /**
   * Per case id with a close being scored, oldest close first: the case_opened events of the cases opened under that
   * id meanwhile, published once that close's case_closed is (else a feed reader would see the new case opened, then
   * the old one closed, and drop the new one).
   */
  private readonly closing = new Map<string, (() => void)[][]>();
  /** Evicted cases whose eviction the evaluator holds until their POST /events evaluations are published. */
  private readonly heldEvictions = new Set<CaseState>();
  /**
   * Cases opened while a close or held eviction of their id was under way, whose case_opened waits in that list: their
   * own evaluations and eviction, should they come first, join the list behind it.
   */
  private readonly heldOpenings = new Map<LiveCase, (() => void)[]>();
  /**
   * The anomaly of the last alert among a case's evaluations published late (of fewer events than its latest:
   * CaseScores.record), which come in their own order and leave its `alertSignature` alone: without it each of a late
   * run's evaluations with one anomaly alerted again. Here rather than on LiveCase: few cases ever have one, and a
   * field would be 8 bytes on each of a million open cases.
   */
  private readonly lateAlertSignatures = new WeakMap<LiveCase, number[]>();

  /** For the case store and the streaming evaluator. */
  readonly caseObserver: EvaluatorObserver = {
    // The guard written out for the two called per event: a closure per call is garbage per request.
    onEvent: (caseId, state) => {
      try {
        this.caseEvent(caseId, state);
      } catch (error) {
        this.log.error({ err: error, what: 'case event' }, 'live view: publishing failed');
      }
    },
    onEvaluated: (evaluation, context) => {
      try {
        this.caseEvaluated(evaluation, context);
      } catch (error) {
        this.log.error({ err: error, what: 'case evaluation' }, 'live view: publishing failed');
      }
    },
    onEvict: (caseId, state, reason) => this.guard('case eviction', () => this.caseEvicted(caseId, state, reason)),
    onEvictHeld: (caseId, state) =>
      this.guard('held eviction', () => {
        // Like a close being scored: a case opened under the id meanwhile is announced after this eviction.
        this.heldEvictions.add(state);
        this.closeStarted(caseId);
      }),
    // Without a case_opened: the case was opened before the restart, and the feed's ids begin afresh.
    onRestored: (state) =>
      this.guard('restored case', () => {
        const lane = this.lanes.ofCase(state.attributes);
        this.state.touch(this.state.opened(state, lane, new Date(this.now()).toISOString()), state.nEvents);
      }),
    onCloseStarted: (caseId) => this.guard('close', () => this.closeStarted(caseId)),
    // Reinstated, the case is open as the feed last showed it: nothing to publish.
    onCloseFailed: (caseId, state, reinstated) =>
      this.guard('failed close', () => {
        if (!reinstated) this.caseEvicted(caseId, state, 'close_failed');
        this.closeSettled(caseId);
      }),
  };

  constructor(private readonly options: LiveServiceOptions) {
    this.log = options.log ?? NO_LOG;
    this.metrics = options.metrics ?? { ...NO_METRICS, alertRaised: () => {} };
    this.now = options.now ?? Date.now;
    const transitions = { ids: options.net.outputs, labels: options.net.outputs.map((id) => labelOf(options.net, id)) };
    const explainer = new Explainer(options.net, options.explanationFloor);
    const newAlert = () => new AlertRecord(explainer);
    const firstIdAfter = options.firstIdAfter ?? randomFirstId();
    this.bus = new LiveBus({ ringSize: options.ringSize, alertHistory: options.alertHistory, firstIdAfter, maxSubscribers: options.maxSubscribers, subscriberBuffer: options.subscriberBuffer, subscriberGraceMs: options.subscriberGraceMs, metrics: this.metrics, log: this.log, now: this.now, transitions, newAlert });
    this.state = new LiveState(transitions, newAlert);
    this.stats = new StatsTracker(this.now);
    this.lanes = new LaneResolver(options.laneAttribute, options.net.scenarioName);
    this.explainer = explainer;
    this.laneThresholds = options.laneThresholds ?? new Map();
  }

  /** Called with every alert raised (webhooks). Must not throw; runs synchronously. */
  onAlert(sink: (alert: AlertEvent) => void): void {
    this.alertSinks.push(sink);
  }

  thresholdFor(lane: string): number {
    // Asked for every evaluation; most services set no lane thresholds.
    if (this.laneThresholds.size === 0) return this.options.alertThreshold;
    return this.laneThresholds.get(lane) ?? this.options.alertThreshold;
  }

  /** POST /anomaly: one stateless evaluation, under the request id. */
  anomaly(requestId: string, trace: TraceLike, score: ColumnScore, observed: Observed, latencyMs: number): void {
    // The guard written out: this runs for every request, and a closure per call is garbage per request.
    try {
      const record = this.bus.nextEvaluation();
      record.describe(requestId, -1, this.lanes.ofTrace(trace.attributes, trace.events), 'anomaly', trace.events.length, false, latencyMs);
      this.evaluated(record, score, observed, undefined);
    } catch (error) {
      this.log.error({ err: error, what: 'anomaly evaluation' }, 'live view: publishing failed');
    }
  }

  /** POST /anomaly/batch: one stateless evaluation per scored item, as `<request id>/<index>`. */
  anomalyBatch(requestId: string, items: readonly BatchItemScore[], latencyMs: number): void {
    try {
      // One timestamp for the batch's evaluations, as they were scored in one run.
      const atMs = this.now();
      for (const item of items) {
        const { trace } = item;
        const record = this.bus.nextEvaluation(atMs);
        record.describe(requestId, item.index, this.lanes.ofTrace(trace.attributes, trace.events), 'anomaly_batch', trace.events.length, false, latencyMs);
        this.evaluated(record, item.row, item.row.observed, undefined);
      }
    } catch (error) {
      this.log.error({ err: error, what: 'anomaly batch evaluation' }, 'live view: publishing failed');
    }
  }

  /** Publishes a stats event (the ticker calls this). */
  tick(): StatsEvent {
    return this.bus.publish<StatsEvent>({ type: 'stats', ...this.stats.compute(this.state.openCases, this.bus.subscriberCount) });
  }

  snapshot(filter: LiveFilter = {}): SnapshotEvent {
    return this.buildSnapshot(this.bus.latestId, filter);
  }

  hasRoom(): boolean {
    return this.bus.hasRoom();
  }

  subscribe(sink: SseSink, filter: LiveFilter, resume: ResumeRequest, preamble = ''): Subscriber {
    return this.bus.subscribe(sink, filter, resume, (head, f, subscribers) => this.buildSnapshot(head, f, subscribers), preamble);
  }

  private buildSnapshot(headId: number, filter: LiveFilter, subscribers = this.bus.subscriberCount): SnapshotEvent {
    return this.state.snapshot(headId, new Date(this.now()).toISOString(), filter, {
      scenario: this.options.net.scenarioName,
      laneAttribute: this.options.laneAttribute,
      alertThreshold: this.options.alertThreshold,
      laneThresholds: this.laneThresholds,
      stats: this.stats.compute(this.state.openCases, subscribers),
    });
  }

  private caseEvent(caseId: string, state: CaseState): void {
    this.stats.recordEvent();
    let entry = this.state.of(state);
    if (entry === undefined) {
      // Only a new case's lane is wanted now: an open one's moves with its next evaluation, which reads it then.
      const lane = this.lanes.ofCase(state.attributes);
      const held = this.closing.get(caseId)?.at(-1);
      if (held === undefined) {
        const opened = this.bus.publish<CaseOpenedEvent>({ type: 'case_opened', case_id: caseId, lane });
        entry = this.state.opened(state, lane, opened.ts);
      } else {
        const opened = this.state.opened(state, lane, new Date(this.now()).toISOString());
        this.heldOpenings.set(opened, held);
        held.push(() => {
          this.heldOpenings.delete(opened);
          this.bus.publish<CaseOpenedEvent>({ type: 'case_opened', case_id: caseId, lane });
        });
        entry = opened;
      }
    }
    this.state.touch(entry, state.nEvents);
  }

  private caseEvaluated(evaluation: Evaluation, context: EvaluationContext): void {
    const entry = this.state.of(context.state);
    // Its case_opened is still held behind an earlier case of the id (a POST /events opened it during that one's
    // close, whose evaluation waits for the earlier case's): its evaluations follow it there, as its eviction does.
    const heldOpening = entry === undefined || this.heldOpenings.size === 0 ? undefined : this.heldOpenings.get(entry);
    if (heldOpening === undefined) this.publishCaseEvaluation(evaluation, context, entry);
    else heldOpening.push(() => this.publishCaseEvaluation(evaluation, context, entry));
  }

  private publishCaseEvaluation(evaluation: Evaluation, context: EvaluationContext, entry: LiveCase | undefined): void {
    // Its attributes' lane now (the latest event's), which may differ from the one it was last published under.
    const lane = this.lanes.ofCase(context.state.attributes);
    const record = this.bus.nextEvaluation();
    record.describe(evaluation.case_id, -1, lane, context.source, evaluation.n_events, evaluation.closed, context.latencyMs);
    // Its lane attribute changed since it was last published (opened or scored) under another lane.
    if (entry !== undefined && entry.lastLane !== lane) record.previousLane = entry.lastLane;
    this.evaluated(record, evaluation.row, context.observed, entry);
    if (evaluation.closed) {
      this.bus.publish<CaseClosedEvent>({ type: 'case_closed', case_id: evaluation.case_id, lane, n_events: evaluation.n_events, trace_score: evaluation.trace_score });
      this.state.remove(context.state);
      this.closeSettled(evaluation.case_id);
    }
  }

  private closeStarted(caseId: string): void {
    const generations = this.closing.get(caseId);
    if (generations === undefined) this.closing.set(caseId, [[]]);
    else generations.push([]);
  }

  /** The oldest close under `caseId` is published: the case_opened events held behind it follow it. */
  private closeSettled(caseId: string): void {
    const generations = this.closing.get(caseId);
    const held = generations?.shift();
    if (generations !== undefined && generations.length === 0) this.closing.delete(caseId);
    for (const publish of held ?? []) publish();
  }

  private caseEvicted(caseId: string, state: CaseState, reason: DropReason): void {
    const entry = this.state.remove(state);
    const heldOpening = entry === undefined ? undefined : this.heldOpenings.get(entry);
    if (entry !== undefined && heldOpening !== undefined) {
      // Its case_opened is still held behind an earlier case of the id: the eviction follows it there.
      heldOpening.push(() => this.publishEviction(caseId, state, entry, reason));
      this.heldOpenings.delete(entry);
    } else {
      this.publishEviction(caseId, state, entry, reason);
    }
    if (this.heldEvictions.delete(state)) this.closeSettled(caseId);
  }

  private publishEviction(caseId: string, state: CaseState, entry: LiveCase | undefined, reason: DropReason): void {
    const lane = this.lanes.ofCase(state.attributes);
    // Left the lane it was last published under (its attribute changed): a reader of that lane is told too.
    if (entry !== undefined && entry.lastLane !== lane) {
      this.bus.publish<CaseEvictedEvent>({ type: 'case_evicted', case_id: caseId, lane, previous_lane: entry.lastLane, n_events: state.nEvents, reason });
    } else {
      this.bus.publish<CaseEvictedEvent>({ type: 'case_evicted', case_id: caseId, lane, n_events: state.nEvents, reason });
    }
  }

  /** Completes an evaluation whose record `describe()` has filled: its score and top, the snapshot state, an alert. */
  private evaluated(record: EvaluationRecord, score: ColumnScore, observed: Observed, entry: LiveCase | undefined): void {
    const threshold = this.thresholdFor(record.lane);
    const reached = score.trace_score >= threshold;
    record.traceScore = score.trace_score;
    record.alert = reached;
    this.explainer.top(record, score, observed);
    this.bus.evaluationWritten();
    this.stats.recordScore(record.latencyMs, record.tsMs);
    // False for an evaluation of fewer events than the case's latest (published late: CaseScores.record). It is on the
    // feed, and alerts unless the case has been alerted with the same anomaly, by its latest evaluation or by the late
    // one before it, but the case's alert state stays the latest evaluation's.
    let latest = true;
    if (entry !== undefined) latest = this.state.recordCaseEvaluation(entry, record);
    else if (record.source === 'anomaly' || record.source === 'anomaly_batch') this.state.recordStateless(record);
    if (!reached) {
      if (entry !== undefined && latest) entry.alertSignature = undefined;
      else if (entry !== undefined) this.lateAlertSignatures.delete(entry);
      return;
    }
    if (entry !== undefined) {
      // An open case re-evaluated with the same anomaly (same transitions, same kinds) has been alerted already.
      if (this.explainer.sameSignature(score, observed, entry.alertSignature)) return;
      if (latest) entry.alertSignature = this.explainer.signature(score, observed);
      else if (this.explainer.sameSignature(score, observed, this.lateAlertSignatures.get(entry))) return;
      else this.lateAlertSignatures.set(entry, this.explainer.signature(score, observed));
    }
    const alert = this.bus.nextAlert();
    alert.describe(record, threshold);
    this.explainer.rank(score, observed, alert);
    this.bus.alertWritten();
    this.state.recordAlert(alert);
    this.stats.recordAlert();
    this.metrics.alertRaised();
    if (this.alertSinks.length > 0) {
      const event = alert.toEvent();
      for (const sink of this.alertSinks) sink(event);
    }
  }

  /** Publishing must never fail scoring: a bug here is logged, and the request goes on. */
  private guard(what: string, action: () => void): void {
    try {
      action();
    } catch (error) {
      this.log.error({ err: error, what }, 'live view: publishing failed');
    }
  }
}
