import { Type, type Static } from '@sinclair/typebox';
import { ErrorBody, IgnoredInputs, InputMap, MapOf, NumericLike, OptionalAttributes, Residuals } from './common.js';

export const TraceEvent = Type.Object({
  name: Type.String({ description: 'activity name, matched exactly (case-sensitive, untrimmed) against transition labels; names that match no label are ignored, as in PETRA (so "" is accepted here)' }),
  attributes: OptionalAttributes,
});

export const AnomalyRequest = Type.Object(
  {
    input_marking: Type.Optional(
      Type.Union([MapOf(NumericLike), Type.Null()], {
        description: "marking inputs; omitted inputs take the bundle's defaults. When the whole field is omitted (or null, as Jackson writes an unset field), marking (and values) are derived from `attributes` through the sidecar's specs, as petra-score does",
      }),
    ),
    input_values: Type.Optional(Type.Union([InputMap, Type.Null()], { description: "value-channel inputs (coloured nets); with input_marking, null and {} both mean the defaults; without it, null (like an omitted field) means derived from `attributes` through the specs, {} the defaults" })),
    events: Type.Array(TraceEvent, { description: 'the trace; order and repetitions do not matter, only which labels occur' }),
    attributes: OptionalAttributes,
  },
  {
    examples: [
      { input_marking: { p_application: 0.9 }, events: [{ name: 'approve loan', attributes: {} }], attributes: { risk_score: '0.9' } },
      { events: [{ name: 'decline loan' }], attributes: { risk_score: '0.07' } },
    ],
  },
);
export type AnomalyRequest = Static<typeof AnomalyRequest>;

/** The fields of an /anomaly body, as its schema names them; any other is ignored, as PETRA's pydantic model ignores it. */
export const TRACE_FIELDS: ReadonlySet<string> = new Set(Object.keys(AnomalyRequest.properties));

export const AnomalyResponse = Type.Object({
  trace_score: Type.Number({ description: 'sum of the residuals (double precision, sorted-id order)' }),
  per_transition_residuals: Residuals,
  ignored_inputs: Type.Optional(IgnoredInputs),
});
export type AnomalyResponse = Static<typeof AnomalyResponse>;

/**
 * The documented body of /anomaly/batch: every item an /anomaly body. The route validates only `TracesEnvelope` and
 * scoreTraceBatch each item against AnomalyRequest, so that one bad item gets an error entry instead of failing the
 * others.
 */
export const AnomalyBatchRequest = Type.Object(
  {
    traces: Type.Array(AnomalyRequest, {
      description: 'each item an /anomaly request body, validated on its own: an item that is malformed gets an error entry, the others are still scored',
    }),
  },
  {
    examples: [
      {
        traces: [
          { input_marking: { p_application: 0.9 }, events: [{ name: 'approve loan' }] },
          { events: [{ name: 'decline loan' }], attributes: { risk_score: '0.07' } },
        ],
      },
    ],
  },
);

/** What the /anomaly/batch route itself checks of its body: the documented one, with `traces` any array. */
export const TracesEnvelope = Type.Object({ ...AnomalyBatchRequest.properties, traces: Type.Array(Type.Unknown()) });

export const AnomalyBatchItem = Type.Union([
  Type.Object({ index: Type.Integer(), trace_score: Type.Number(), per_transition_residuals: Residuals, ignored_inputs: Type.Optional(IgnoredInputs) }),
  Type.Object({ index: Type.Integer(), error: Type.Ref(ErrorBody) }),
]);
export type AnomalyBatchItem = Static<typeof AnomalyBatchItem>;

export const AnomalyBatchResponse = Type.Object({
  results: Type.Array(AnomalyBatchItem, { description: 'one entry per trace, in input order' }),
  scored: Type.Integer(),
  errors: Type.Integer(),
});
