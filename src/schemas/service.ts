import { Type } from '@sinclair/typebox';

/** PETRA's /healthz fields; `version` is petrascore's. */
export const Health = Type.Object({
  status: Type.Literal('ok'),
  version: Type.String(),
  n_places: Type.Integer({ description: "places of the net, as the sidecar lists them (0 when it does not)" }),
  n_transitions: Type.Integer({ description: 'transitions of the net (the sidecar\'s transition_labels)' }),
});

export const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('starting'), Type.Literal('draining'), Type.Literal('failed')]),
});

const Input = Type.Object({ name: Type.String(), place: Type.String(), default: Type.Number(), spec: Type.Optional(Type.Unknown()) });

export const SchemaResponse = Type.Object({
  scenario_name: Type.String(),
  scenario_description: Type.Optional(Type.String()),
  places: Type.Array(Type.String(), { description: 'place ids, sorted by code point as PETRA sorts them' }),
  transitions: Type.Record(Type.String(), Type.String(), { description: 'transition id → label (id when unlabeled), in transition-id order (code points, as PETRA sorts them; "10" before "9")' }),
  scored_transitions: Type.Array(Type.String(), { description: 'ONNX output columns, in order' }),
  inputs: Type.Object({ marking: Type.Array(Input), values: Type.Array(Input) }),
  initial_marking: Type.Record(Type.String(), Type.Number(), { description: 'place id → tokens, in place-id order (code points)' }),
  has_silent_transitions: Type.Boolean({ description: 'as PETRA\'s /schema: the net has silent (τ) transitions' }),
  has_structural_guards: Type.Boolean({ description: 'as PETRA\'s /schema: the net has value guards (coloured nets)' }),
  input_marking_spec: Type.Record(Type.String(), Type.Unknown(), { description: "place id → the sidecar's spec entry, in place-id order (code points)" }),
  input_values_spec: Type.Record(Type.String(), Type.Unknown(), { description: "place id → the sidecar's spec entry, in place-id order (code points)" }),
  flippable_places: Type.Object(
    { marking: Type.Array(Type.String()), value: Type.Array(Type.String()) },
    { description: 'places POST /counterfactual can flip, per flip_channel: the exported ONNX inputs (other places of the net get 422), sorted' },
  ),
  versions: Type.Object({ petrascore: Type.String(), petra: Type.Optional(Type.String()), opset: Type.Optional(Type.Integer()), onnxruntime: Type.String() }),
});
