import { Type, type Static } from '@sinclair/typebox';

/** One entry of `[training.input_marking]` / `[training.input_values]`: PETRA reads only `constant` and `attribute`. */
export const SpecEntry = Type.Object(
  {
    constant: Type.Optional(Type.Union([Type.Number(), Type.Boolean(), Type.String()])),
    attribute: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: true },
);
export type SpecEntry = Static<typeof SpecEntry>;

export const SpecMap = Type.Record(Type.String(), Type.Unknown(), {
  description: 'place id → { attribute = "name" } or { constant = C }, as PETRA records it',
});

const StringList = Type.Array(Type.String({ minLength: 1 }));
const NumberMap = Type.Record(Type.String(), Type.Number());

/**
 * The sidecar `model.onnx.meta.json`. Only export_onnx's own schema plus the labels is required, so a bundle made by
 * calling `export_onnx` by hand is accepted; everything PETRA's exporter adds on top is optional.
 */
export const Sidecar = Type.Object(
  {
    input_marking_places: StringList,
    input_value_places: StringList,
    output_transitions: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    transition_labels: Type.Record(Type.String(), Type.String()),
    format: Type.Optional(Type.Literal('petra-onnx-bundle')),
    format_version: Type.Optional(Type.Literal(1)),
    scenario_name: Type.Optional(Type.String()),
    scenario_description: Type.Optional(Type.String()),
    petra_version: Type.Optional(Type.String()),
    saved_at: Type.Optional(Type.String()),
    input_marking_spec: Type.Optional(SpecMap),
    input_values_spec: Type.Optional(SpecMap),
    output_name: Type.Optional(Type.String({ minLength: 1 })),
    onnx_input_names: Type.Optional(StringList),
    places: Type.Optional(StringList),
    initial_marking: Type.Optional(NumberMap),
    input_defaults: Type.Optional(NumberMap),
    opset: Type.Optional(Type.Integer()),
    structural_guards: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    silent_transitions: Type.Optional(StringList),
  },
  { additionalProperties: true },
);
export type Sidecar = Static<typeof Sidecar>;
