import { Type, type SchemaOptions, type Static, type TSchema } from '@sinclair/typebox';
import { IgnoredInputs, InputMap, NumericLike } from './common.js';

const channel = (options: SchemaOptions = {}) => Type.Union([Type.Literal('marking'), Type.Literal('value')], options);
const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

export const CounterfactualRequest = Type.Object(
  {
    input_marking: InputMap,
    input_values: Type.Optional(Type.Union([InputMap, Type.Null()])),
    flip_place: Type.String({ description: 'the place whose input is varied; it must be an ONNX input on flip_channel (GET /schema: flippable_places)' }),
    target_transition: Type.String({ description: 'the transition whose activation should cross 0.5; it must be an ONNX output' }),
    flip_channel: Type.Optional(channel({ default: 'marking', description: 'vary the marking (activation) or the token value of flip_place; "value" needs input_values[flip_place]' })),
    // Numeric strings and booleans as in input_marking: PETRA's pydantic model coerces them in these fields too.
    search_range: Type.Optional(
      Type.Array(NumericLike, {
        minItems: 2,
        maxItems: 2,
        default: [0, 1],
        description:
          '[lo, hi] with lo ≤ hi: the inputs searched (e.g. [0, 10000] for an amount on the value channel); each within ±3.4e38 (the model\'s inputs are float32), and taken as input_marking values are (numeric strings, booleans)',
      }),
    ),
    tolerance: Type.Optional(
      Type.Union([Type.Number(), Type.String(), Type.Boolean()], {
        default: 1e-3,
        description: 'stop once |activation − 0.5| < tolerance; a number ≥ 0, also as a numeric string or a boolean, as PETRA takes it',
      }),
    ),
    nearest: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'not in PETRA: when the activation crosses 0.5 more than once on the range, answer the crossing nearest to the input the model was fed (fed_input) rather than the one bisection reaches; also finds crossings when both ends of the range are on the same side',
      }),
    ),
  },
  {
    // Unlike PETRA, which ignores them: a misspelt search_range or tolerance would silently search with the default.
    additionalProperties: false,
    examples: [
      { input_marking: { p_application: 0.9 }, flip_place: 'p_application', target_transition: 't_approve' },
      { input_marking: { p_application: 0.2 }, flip_place: 'p_application', target_transition: 't_decline', search_range: [0, 1], tolerance: 0.0001, nearest: true },
    ],
  },
);
export type CounterfactualRequest = Static<typeof CounterfactualRequest>;

export const CounterfactualSearch = Type.Object(
  {
    strategy: Type.Union([Type.Literal('bisection'), Type.Literal('nearest')], {
      description: "bisection: PETRA's bisection over search_range, replayed on batched evaluations (same answer); nearest: the crossing nearest to fed_input",
    }),
    levels_per_call: Type.Integer({ description: 'bisection levels evaluated per inference call (2^levels − 1 midpoints)' }),
    grid_points: Type.Integer({ description: 'points of the first call’s uniform grid over search_range, end points included' }),
    crossings_on_grid: Type.Integer({
      description: 'crossings of 0.5 the grid shows (grid points at exactly 0.5, cells whose ends are on opposite sides); more than 1 means bisection answers one of several',
    }),
    iterations: Type.Integer({ description: 'bisection midpoints on the way to the answer (PETRA stops after 50)' }),
    within_tolerance: Type.Boolean({
      description:
        'whether |counterfactual_activation − 0.5| < tolerance. false when nothing was found, or when the search stopped because the bracket became narrower than 1e-4 of search_range (or after 50 midpoints): on a wide range the answer can then lie far from the crossing, so narrow search_range and ask again',
    }),
    flips_decision: Type.Boolean({
      description:
        'whether counterfactual_activation lies on the other side of 0.5 from original_activation. PETRA answers the last midpoint within tolerance of 0.5 on whichever side it falls, so false with found: true means the answer is a hair short of flipping the decision (the transition still fires, or still does not). A lower tolerance or a narrower search_range brings it nearer the crossing, but not always beyond: the search also stops when the bracket is narrower than 1e-4 of search_range (with tolerance 0 always so), and that last midpoint can fall on either side',
    }),
    inference_calls: Type.Integer({ description: 'batched inference calls (one ONNX run each, unless a call exceeds --max-batch-rows)' }),
    rows: Type.Integer({ description: 'input rows evaluated in those calls' }),
  },
  { description: 'how the answer was searched (not in PETRA)' },
);

export const CounterfactualResponse = Type.Object({
  found: Type.Boolean({ description: 'false when the activation at the two ends of search_range is on the same side of 0.5: as in PETRA, only the ends are compared, so a crossing and a crossing back inside the range are not seen, unless nearest: true, which also finds them on its first grid over the range; the PETRA fields below are then null except target_transition' }),
  target_transition: Type.String(),
  target_label: Nullable(Type.String(), 'label of target_transition (its id when unlabeled)'),
  flipped_place: Nullable(Type.String(), 'flip_place'),
  flipped_channel: Type.Union([Type.Literal('marking'), Type.Literal('value'), Type.Null()], { description: 'flip_channel' }),
  original_input: Nullable(Type.Number(), "PETRA's original input: input_values[flip_place] on the value channel, else input_marking[flip_place], literally 0.0 when absent"),
  counterfactual_input: Nullable(Type.Number(), "the last bisection midpoint (float64), where the activation is within tolerance of 0.5 or the bracket is narrower than 1e-4 of the range"),
  original_activation: Nullable(Type.Number(), 'activation of target_transition under the request’s inputs'),
  counterfactual_activation: Nullable(Type.Number(), 'activation of target_transition at counterfactual_input'),
  fed_input: Type.Number({ description: 'not in PETRA: the value the model was fed for flip_place under the request’s inputs (the bundle default when omitted, where PETRA reports original_input 0.0); nearest measures from it' }),
  search: CounterfactualSearch,
  ignored_inputs: Type.Optional(IgnoredInputs),
});
export type CounterfactualResponse = Static<typeof CounterfactualResponse>;

export const SensitivityRequest = Type.Object(
  {
    input_marking: InputMap,
    input_values: Type.Optional(Type.Union([InputMap, Type.Null()])),
    target_transition: Type.String({ description: 'the transition whose activation is differentiated; it must be an ONNX output' }),
    all: Type.Optional(Type.Boolean({ default: false, description: 'not in PETRA: also rank the gradients of every exported input by magnitude (ranked_gradients)' })),
  },
  {
    additionalProperties: false,
    examples: [
      { input_marking: { p_application: 0.5 }, target_transition: 't_approve' },
      { input_marking: {}, input_values: null, target_transition: 't_decline', all: true },
    ],
  },
);
export type SensitivityRequest = Static<typeof SensitivityRequest>;

export const RankedGradient = Type.Object({
  input: Type.String({ description: 'ONNX input name, e.g. value__p_submitted' }),
  place: Type.String(),
  channel: channel(),
  attribute: Type.Optional(Type.String({ description: 'the trace attribute the bundle’s spec reads into this input (its business name), when it reads one' })),
  value: Type.Number({ description: 'the input’s value at the base point (float32 as fed)' }),
  gradient: Type.Number(),
  step: Type.Number({ description: 'the finest finite-difference step h the chosen estimate used: half the difference of the two float32 values fed (the whole difference where the input is within h₀ of ±3.4e38 and the differences are one-sided)' }),
  error_estimate: Type.Number({ description: "Ridders' estimate of |gradient − exact derivative| (see method.accuracy)" }),
});

export const SensitivityMethod = Type.Object(
  {
    name: Type.Literal('ridders_central_difference'),
    formula: Type.String(),
    initial_relative_step: Type.Number({ description: 'η₀ in the first step h₀ = η₀·max(|x|, scale), chosen by measurement' }),
    step_ratio: Type.Number({ description: 'each further step is the previous one divided by this' }),
    steps: Type.Integer({ description: 'steps per input in the extrapolation tableau' }),
    rows_per_input: Type.Integer({ description: 'rows evaluated per differentiated input (2 per step)' }),
    max_error_estimate: Type.Number({ description: 'the largest error estimate among the differentiated inputs (0 when none was differentiated)' }),
    accuracy: Type.String(),
    inference_calls: Type.Integer(),
    rows: Type.Integer({ description: '1 + rows_per_input per differentiated input, all in one call' }),
  },
  { description: 'not in PETRA (which uses exact autograd): how the gradients were estimated over ONNX, and how accurate that is' },
);

export const SensitivityResponse = Type.Object({
  target_transition: Type.String(),
  target_label: Type.String({ description: 'label of target_transition (its id when unlabeled)' }),
  base_activation: Type.Number({ description: 'activation of target_transition under the request’s inputs' }),
  marking_gradients: Type.Record(Type.String(), Type.Number(), {
    description: 'd activation / d input_marking[key] for every key of input_marking, in request order except that keys like array indices ("2") come first, ascending, as JSON objects are ordered in JavaScript; 0.0 for keys that are no ONNX marking input (PETRA: keys the forward pass ignores)',
  }),
  value_gradients: Type.Record(Type.String(), Type.Number(), { description: 'the same for input_values ({} when it is null or absent)' }),
  gradient_errors: Type.Object(
    {
      marking: Type.Record(Type.String(), Type.Number(), { description: 'per key of marking_gradients, the estimate of |gradient − exact derivative| (0.0 for keys that are no ONNX input)' }),
      value: Type.Record(Type.String(), Type.Number(), { description: 'the same for value_gradients' }),
    },
    { description: "not in PETRA: each gradient's error estimate (Ridders' tableau, never below the float32 rounding floor; see method.accuracy)" },
  ),
  ranked_gradients: Type.Optional(Type.Array(RankedGradient, { description: 'with all: true, every exported input by decreasing |gradient|' })),
  method: SensitivityMethod,
  ignored_inputs: Type.Optional(IgnoredInputs),
});
export type SensitivityResponse = Static<typeof SensitivityResponse>;
