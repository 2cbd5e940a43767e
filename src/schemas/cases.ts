import { Type } from '@sinclair/typebox';
import { CASE_LIMITS, ENDINGS, type CaseLimit } from '../cases/case-errors.js';
import { OptionalAttributes, refTo, Residuals } from './common.js';

/** The longest case id, in UTF-16 code units. */
export const MAX_CASE_ID_LENGTH = 512;
/**
 * The router's `maxParamLength`: the longest path parameter, as sent (percent-encoded), so that any case id of
 * MAX_CASE_ID_LENGTH fits (the router's default is 100); longer is a 414 before routing.
 */
export const MAX_PARAM_URL_LENGTH = 6144;

const caseIdIn = (example: string) =>
  Type.Object({
    id: Type.String({ minLength: 1, maxLength: MAX_CASE_ID_LENGTH, description: 'case (process instance) id, percent-encoded in the path', examples: [example] }),
  });

export const CaseParams = caseIdIn('C1');

/**
 * DELETE's own example id: Swagger UI lists DELETE /cases/{id} above the close, so at C1 a reader executing the examples
 * down the page deleted the case the close example then answered 404 for. C2 is the other case POST /events' example
 * (listed first) opens.
 */
export const DeleteCaseParams = caseIdIn('C2');

/**
 * A case id given in a body. A URL can only carry well-formed Unicode (anything else is a 400 bad_url), so a JSON
 * string with a lone surrogate (`"\ud800"`) would open a case that no URL can read or close.
 */
const BodyCaseId = Type.String({
  minLength: 1,
  maxLength: MAX_CASE_ID_LENGTH,
  pattern: '^(?:[^\\uD800-\\uDFFF]|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF])*$',
  'x-expected': 'well-formed Unicode (no lone surrogate), as a URL can carry',
});

export const ScoreQuery = Type.Object({
  score: Type.Optional(Type.Boolean({ description: "score the case after this event (default: the server's --score-every-event)" })),
});

/** POST /events: the same switch, for every event of the request. */
export const StreamScoreQuery = Type.Object({
  score: Type.Optional(Type.Boolean({ description: "score each event's case after that event, one result per event (default: the server's --score-every-event)" })),
});

const eventFields = {
  name: Type.String({ minLength: 1, description: 'activity name' }),
  timestamp: Type.Optional(Type.Union([Type.Number(), Type.String(), Type.Null()], { description: 'carried but unused, as in PETRA: events apply in arrival order' })),
  attributes: OptionalAttributes,
};

export const CaseEvent = Type.Object(eventFields, {
  examples: [{ name: 'approve loan', timestamp: 1700000007, attributes: { risk_score: '0.9', channel: 'web' } }],
});

export const ScoreProblem = Type.Object({
  reason: Type.Union([Type.Literal('missing_attribute'), Type.Literal('non_numeric_attribute')]),
  attribute: Type.String(),
  place: Type.String(),
  message: Type.String(),
});

export const Acknowledgement = Type.Object({
  case_id: Type.String(),
  n_events: Type.Integer(),
  not_scored: Type.Optional(Type.Object(ScoreProblem.properties, { description: 'present when scoring was asked for but the case cannot be scored yet' })),
});

export const Discarded = Type.Object({
  case_id: Type.String(),
  n_events: Type.Integer({ description: 'events the case had received' }),
});

/**
 * A case's evaluation, as four operations answer it (an event scored, a case scored, a close, an item of /events): one
 * named component (registered with addSchema, referenced by refTo), so that a generated client has one type for it.
 */
export const Evaluation = Type.Object(
  {
    case_id: Type.String(),
    n_events: Type.Integer(),
    trace_score: Type.Number(),
    per_transition_residuals: Residuals,
    closed: Type.Boolean(),
  },
  { $id: 'CaseEvaluation' },
);

export const Rejection = Type.Object({
  case_id: Type.String(),
  rejected: Type.Object({
    limit: Type.Unsafe<CaseLimit>(Type.String({ enum: [...CASE_LIMITS], description: 'the per-case limit the event would exceed (--max-events-per-case, --max-attributes-per-case, --max-attribute-chars-per-case)' })),
    message: Type.String(),
  }),
});

export const CaseList = Type.Object({
  count: Type.Integer({ description: 'open cases in all' }),
  case_ids: Type.Array(Type.String(), { description: 'sorted; at most `limit`, after `after`' }),
});

/** Ids a GET /cases answers without `limit` (the validator applies no schema defaults: the route reads this). */
export const DEFAULT_CASE_PAGE = 1000;

export const CaseListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, default: DEFAULT_CASE_PAGE, description: 'at most this many ids; `count` says how many cases are open in all' })),
  after: Type.Optional(Type.String({ description: 'list ids sorted after this one (paging)' })),
});

export const StreamRequest = Type.Object(
  { events: Type.Array(Type.Object({ case_id: BodyCaseId, ...eventFields })) },
  {
    examples: [
      {
        events: [
          { case_id: 'C1', name: 'approve loan', attributes: { risk_score: '0.9' } },
          { case_id: 'C2', name: 'decline loan', attributes: { risk_score: '0.1' } },
        ],
      },
    ],
  },
);

/** What POST /cases/{id}/events says in its x-petrascore-reopened header, in a POST /events result. */
const Reopened = Type.Optional(
  Type.Unsafe<string>(
    Type.String({
      enum: [...ENDINGS],
      description: 'present when the event opened a new case under an id that ended lately (--ended-case-memory): how that case ended; the new case has none of its events',
    }),
  ),
);

export const StreamResponse = Type.Object({
  accepted: Type.Integer({ description: 'events applied' }),
  results: Type.Array(
    Type.Union([Type.Intersect([refTo(Evaluation), Type.Object({ reopened: Reopened })]), Type.Object({ ...Acknowledgement.properties, reopened: Reopened }), Rejection]),
    { description: 'one entry per event, in order' },
  ),
});
