import type { Static } from '@sinclair/typebox';
import { flippablePlaces } from '../diagnostics/net-nodes.js';
import { compareCodePoints } from '../scoring/net.js';
import type { SchemaResponse } from '../schemas/service.js';
import { ONNXRUNTIME_VERSION, PETRASCORE_VERSION } from '../version.js';
import type { Bundle } from './load-bundle.js';

/**
 * What a client (or `petrascore inspect`) needs to know to call the model, computed once per bundle. Its maps keyed by
 * id cannot hold their order as objects: modelJson writes it.
 */
export function describeModel(bundle: Omit<Bundle, 'runner'>): Static<typeof SchemaResponse> {
  const { sidecar, net } = bundle;
  const markingSpec = (sidecar.input_marking_spec ?? {}) as Record<string, unknown>;
  const valuesSpec = (sidecar.input_values_spec ?? {}) as Record<string, unknown>;
  const inputs = (channel: 'marking' | 'value', spec: Record<string, unknown>) =>
    net.inputs
      .filter((i) => i.channel === channel)
      .map((i) => (Object.hasOwn(spec, i.place) ? { name: i.name, place: i.place, default: i.defaultValue, spec: spec[i.place] } : { name: i.name, place: i.place, default: i.defaultValue }));
  const transitions: Record<string, string> = { ...sidecar.transition_labels };
  for (const id of net.outputs) transitions[id] ??= id;
  const description = {
    scenario_name: net.scenarioName,
    places: [...(sidecar.places ?? [])].sort(compareCodePoints),
    transitions,
    scored_transitions: [...net.outputs],
    inputs: { marking: inputs('marking', markingSpec), values: inputs('value', valuesSpec) },
    initial_marking: sidecar.initial_marking ?? {},
    has_silent_transitions: (sidecar.silent_transitions?.length ?? 0) > 0,
    has_structural_guards: Object.keys(sidecar.structural_guards ?? {}).length > 0,
    input_marking_spec: markingSpec,
    input_values_spec: valuesSpec,
    flippable_places: flippablePlaces(net),
    versions: {
      petrascore: PETRASCORE_VERSION,
      onnxruntime: ONNXRUNTIME_VERSION,
      ...(sidecar.petra_version !== undefined ? { petra: sidecar.petra_version } : {}),
      ...(sidecar.opset !== undefined ? { opset: sidecar.opset } : {}),
    },
  };
  return sidecar.scenario_description !== undefined ? { ...description, scenario_description: sidecar.scenario_description } : description;
}
