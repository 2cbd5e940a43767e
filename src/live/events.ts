import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DROP_REASONS } from '../cases/case-store.js';
import { refTo } from '../schemas/common.js';

/**
 * The live feed's vocabulary. Every bus event has a `type`, an `id` (one sequence for the whole bus, increasing by one
 * per event) and `ts`, the server time it was published. Optional fields are omitted, never null. `snapshot` and
 * `gap` are written to one connection only and are not in the ring; they carry the id of the latest bus event they
 * account for, so a client that resumes from them misses nothing.
 */

const LIVE_EVENT_TYPES = ['evaluation', 'alert', 'case_opened', 'case_closed', 'case_evicted', 'stats'] as const;
export type BusEventType = (typeof LIVE_EVENT_TYPES)[number];
export const BUS_EVENT_TYPES: readonly BusEventType[] = LIVE_EVENT_TYPES;

// int64: ids start at a random number from 2^50 to 2^52 (randomFirstId), beyond a 32-bit integer of Java's.
const id = Type.Integer({ minimum: 0, format: 'int64', description: 'position in the bus sequence (SSE `id:`); increases by one per bus event' });
const ts = Type.String({ format: 'date-time', description: 'server time of publication, ISO 8601 UTC with milliseconds' });
const caseId = Type.String({ description: 'case id; for stateless calls (/anomaly, /anomaly/batch) the request id (`<request id>/<index>` for batch items)' });
const lane = Type.String({ description: 'value of --lane-attribute for the case, `(no <attribute>)` when the case has none, else the scenario name' });
const previousLane = Type.Optional(
  Type.String({ description: "the lane the case was last published under, when its lane attribute changed since: a reader filtering by that lane (`lane=`) receives this event too, and learns the case left it" }),
);
const traceScore = Type.Number({ description: 'sum of the residuals, as the scoring response says' });

export const EvaluationSource = Type.Union(
  [
    Type.Literal('stream_event'),
    Type.Literal('case_score'),
    Type.Literal('case_close'),
    Type.Literal('events'),
    Type.Literal('anomaly'),
    Type.Literal('anomaly_batch'),
  ],
  { description: 'the call that scored: POST /cases/{id}/events, GET /cases/{id}, POST /cases/{id}/close, POST /events, POST /anomaly, POST /anomaly/batch' },
);
export type EvaluationSource = Static<typeof EvaluationSource>;

export const TopTransition = Type.Object({
  id: Type.String({ description: 'transition id' }),
  label: Type.String({ description: 'transition label (the activity name events carry)' }),
  residual: Type.Number({ description: '|activation − observed|' }),
  activation: Type.Number({ description: "the model's activation for this transition, 0..1" }),
  observed: Type.Union([Type.Literal(0), Type.Literal(1)], {
    description: 'whether some event carried this label: 1 observed (unexpected when the residual is high), 0 not observed (missing); an alert explanation item says the same in `kind`',
  }),
});
export type TopTransition = Static<typeof TopTransition>;

export const ExplanationItem = Type.Object({
  id: Type.String({ description: 'transition id' }),
  label: Type.String(),
  residual: Type.Number(),
  expected: Type.Number({ description: "the model's activation: how strongly it expected this transition" }),
  observed: Type.Union([Type.Literal(0), Type.Literal(1)], { description: 'whether some event carried this label' }),
  kind: Type.Union([Type.Literal('missing'), Type.Literal('unexpected')], { description: 'missing: expected but never observed; unexpected: observed but not expected' }),
  text: Type.String({ description: 'e.g. "expected approve loan (0.99), never observed" or "observed decline loan, not expected (0.01)"' }),
});
export type ExplanationItem = Static<typeof ExplanationItem>;

export const EvaluationEvent = Type.Object(
  {
    type: Type.Literal('evaluation'),
    id,
    ts,
    case_id: caseId,
    lane,
    previous_lane: previousLane,
    source: EvaluationSource,
    n_events: Type.Integer({ description: 'events of the case (of the trace, for stateless calls)' }),
    trace_score: traceScore,
    closed: Type.Boolean(),
    top: Type.Array(TopTransition, { maxItems: 3, description: 'the (up to) 3 transitions with the largest residuals, largest first' }),
    latency_ms: Type.Number({ description: 'time of the inference run this score came from' }),
    alert: Type.Optional(Type.Literal(true, { description: 'present when trace_score reached the alert threshold' })),
  },
  { $id: 'LiveEvaluation', title: 'LiveEvaluation', description: 'every score the service computes' },
);
export type EvaluationEvent = Static<typeof EvaluationEvent>;

export const AlertEvent = Type.Object(
  {
    type: Type.Literal('alert'),
    id,
    ts,
    evaluation_id: Type.Integer({ format: 'int64', description: 'id of the evaluation event that raised the alert' }),
    case_id: caseId,
    lane,
    source: EvaluationSource,
    n_events: Type.Integer(),
    trace_score: traceScore,
    threshold: Type.Number({ description: 'the alert threshold that applied (per lane or global)' }),
    closed: Type.Boolean(),
    explanation: Type.Array(ExplanationItem, {
      description: 'the transitions whose residual exceeds --alert-explanation-floor, largest residual first, at most 20 (an alert on a large net stays small in the ring and on the wire)',
    }),
    explanation_omitted: Type.Optional(Type.Integer({ description: 'how many more transitions exceeded the floor than the explanation lists' })),
    summary: Type.String({ description: 'the explanation in one sentence, labels not ids' }),
  },
  {
    $id: 'LiveAlert',
    title: 'LiveAlert',
    description:
      "an evaluation whose trace_score reached the alert threshold; a case re-evaluated while open with the same anomaly (the same transitions above the explanation floor, each missing or unexpected as before) does not alert again (its evaluation events still say alert: true). Also the --alert-webhook payload.",
  },
);
export type AlertEvent = Static<typeof AlertEvent>;

export const CaseOpenedEvent = Type.Object({ type: Type.Literal('case_opened'), id, ts, case_id: caseId, lane }, { $id: 'LiveCaseOpened', title: 'LiveCaseOpened', description: 'the first event of a streaming case arrived' });
export type CaseOpenedEvent = Static<typeof CaseOpenedEvent>;

export const CaseClosedEvent = Type.Object(
  { type: Type.Literal('case_closed'), id, ts, case_id: caseId, lane, n_events: Type.Integer(), trace_score: traceScore },
  { $id: 'LiveCaseClosed', title: 'LiveCaseClosed', description: 'a case was closed (after its final evaluation event)' },
);
export type CaseClosedEvent = Static<typeof CaseClosedEvent>;

export const CaseEvictedEvent = Type.Object(
  {
    type: Type.Literal('case_evicted'),
    id,
    ts,
    case_id: caseId,
    lane,
    previous_lane: previousLane,
    n_events: Type.Integer(),
    reason: Type.Union(DROP_REASONS.map((reason) => Type.Literal(reason)), {
      description:
        "idle: --case-idle-timeout passed; capacity: --max-open-cases reached; attribute_capacity: the open cases' attributes reached --max-attribute-chars; deleted: DELETE /cases/{id}; close_failed: POST /cases/{id}/close could not run the model (its caller got the error) and a POST /events opened a new case under the id meanwhile, so the failed one is gone (otherwise the case stays open, and nothing is published)",
    }),
  },
  { $id: 'LiveCaseEvicted', title: 'LiveCaseEvicted', description: 'an open case was dropped without a closing evaluation' },
);
export type CaseEvictedEvent = Static<typeof CaseEvictedEvent>;

export const StatsFields = {
  open_cases: Type.Integer(),
  events_per_s: Type.Number({ description: 'streaming events applied per second, over the last 10 s' }),
  scores_per_s: Type.Number({ description: 'evaluations per second, over the last 10 s' }),
  alerts_last_minute: Type.Integer(),
  latency_p50_ms: Type.Optional(Type.Number({ description: 'median inference latency of the last 1024 evaluations; omitted before the first' })),
  latency_p99_ms: Type.Optional(Type.Number()),
  subscribers: Type.Integer({ description: 'connected /live streams' }),
};

export const StatsEvent = Type.Object({ type: Type.Literal('stats'), id, ts, ...StatsFields }, { $id: 'LiveStats', title: 'LiveStats', description: 'published every --live-stats-interval' });
export type StatsEvent = Static<typeof StatsEvent>;

export const SnapshotCase = Type.Object({
  case_id: Type.String(),
  lane,
  n_events: Type.Integer(),
  opened: Type.String({ format: 'date-time', description: 'when the first event arrived, ISO 8601 UTC; for a case restored at startup (--case-state-file), when it was restored' }),
  recent_scores: Type.Array(Type.Number(), { maxItems: 60, description: 'trace_score of the last (up to 60) evaluations, oldest first' }),
  last: Type.Optional(refTo(EvaluationEvent)),
});
export type SnapshotCase = Static<typeof SnapshotCase>;

export const SnapshotLane = Type.Object({
  lane,
  recent_scores: Type.Array(Type.Number(), {
    maxItems: 60,
    description: 'trace_score of the last (up to 60) stateless evaluations in this lane, oldest first; with min_score only those reaching it, and `last` (the latest evaluation) only when it does',
  }),
  // The lane's latest stateless evaluation; omitted when min_score filters it out (its recent_scores are filtered alike).
  last: Type.Optional(refTo(EvaluationEvent)),
});
export type SnapshotLane = Static<typeof SnapshotLane>;

export const SnapshotEvent = Type.Object(
  {
    type: Type.Literal('snapshot'),
    id: Type.Integer({ format: 'int64', description: 'the latest bus event this snapshot accounts for; live events follow from id + 1' }),
    ts,
    scenario: Type.String({ description: "the served model's scenario name" }),
    lane_attribute: Type.Optional(Type.String()),
    alert_threshold: Type.Number(),
    lane_thresholds: Type.Record(Type.String(), Type.Number(), { description: 'per-lane alert thresholds (--alert-lane-threshold)' }),
    open_cases: Type.Integer({ description: 'open cases in all (matching the filters)' }),
    cases: Type.Array(SnapshotCase, { description: 'open cases, the most recently active last; at most 2000. Empty (as is stateless) for a /live reader whose types name none of evaluation, case_opened, case_closed, case_evicted' }),
    stateless: Type.Array(SnapshotLane, { description: 'recent /anomaly and /anomaly/batch evaluations per lane, of the 200 lanes they scored most lately, least recently first' }),
    alerts: Type.Array(refTo(AlertEvent), { description: 'the last (up to 20) alerts, oldest first' }),
    stats: Type.Object(StatsFields),
  },
  { $id: 'LiveSnapshot', title: 'LiveSnapshot', description: 'first event of every connection without Last-Event-ID, and after a gap: the current picture' },
);
export type SnapshotEvent = Static<typeof SnapshotEvent>;

export const GapEvent = Type.Object(
  {
    type: Type.Literal('gap'),
    id: Type.Integer({ format: 'int64', description: 'the latest bus event id' }),
    ts,
    requested: Type.String({ description: 'the Last-Event-ID the client sent' }),
    oldest: Type.Optional(Type.Integer({ format: 'int64', description: 'oldest id still replayable to this reader (a Last-Event-ID one below it resumes without a gap); for a reader of alerts alone it counts the alert history; omitted when the ring is empty' })),
    reason: Type.Union([Type.Literal('expired'), Type.Literal('unknown')], { description: 'expired: older than the ring; unknown: not an id of this server (e.g. it restarted)' }),
  },
  { $id: 'LiveGap', title: 'LiveGap', description: 'events after Last-Event-ID are no longer in memory; a snapshot follows' },
);
export type GapEvent = Static<typeof GapEvent>;

export type BusEvent = EvaluationEvent | AlertEvent | CaseOpenedEvent | CaseClosedEvent | CaseEvictedEvent | StatsEvent;
export type LiveEvent = BusEvent | SnapshotEvent | GapEvent;

/** A bus event before the bus numbers and stamps it. */
export type BusPayload<E extends BusEvent = BusEvent> = E extends BusEvent ? Omit<E, 'id' | 'ts'> : never;

/** Every event schema, for the OpenAPI document (components) and the /live response. */
export const LIVE_EVENT_SCHEMAS: readonly TSchema[] = [EvaluationEvent, AlertEvent, CaseOpenedEvent, CaseClosedEvent, CaseEvictedEvent, StatsEvent, SnapshotEvent, GapEvent];
