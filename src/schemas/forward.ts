import { Type } from '@sinclair/typebox';
import { IgnoredInputs, InputMap } from './common.js';

export const ForwardRequest = Type.Object(
  {
    input_marking: InputMap,
    input_values: Type.Optional(Type.Union([InputMap, Type.Null()])),
  },
  { examples: [{ input_marking: { p_application: 0.9 } }, { input_marking: {} }] },
);

/** The fields of a /forward body, as its schema names them; any other is ignored, as PETRA's pydantic model ignores it. */
export const FORWARD_FIELDS: ReadonlySet<string> = new Set(Object.keys(ForwardRequest.properties));

export const ForwardResponse = Type.Object({
  transition_activations: Type.Record(Type.String(), Type.Number(), { description: 'output transition id → activation, in output order' }),
  ignored_inputs: Type.Optional(IgnoredInputs),
});
