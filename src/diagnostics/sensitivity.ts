import { rowFromRequest, type RequestInputs } from '../scoring/inputs.js';
import { labelOf, type Channel } from '../scoring/net.js';
import { ACCURACY_NOTE, finiteDifferences, MEASURED_ERROR, RELATIVE_STEP } from './finite-difference.js';
import type { BatchModel } from './model.js';
import { checkTransition, outputColumn, type NetNodes } from './net-nodes.js';

/** A `/sensitivity` body. */
export interface SensitivityQuery extends RequestInputs {
  target_transition: string;
  all?: boolean | undefined;
}

export interface RankedGradient {
  input: string;
  place: string;
  channel: Channel;
  attribute?: string;
  value: number;
  gradient: number;
  step: number;
}

export interface SensitivityAnswer {
  target_transition: string;
  target_label: string;
  base_activation: number;
  marking_gradients: Record<string, number>;
  value_gradients: Record<string, number>;
  ranked_gradients?: RankedGradient[];
  method: {
    name: 'richardson_central_difference';
    formula: string;
    relative_step: number;
    measured_error: { marking: number; value: number };
    accuracy: string;
    inference_calls: number;
    rows: number;
  };
  ignored_inputs?: string[];
}

const FORMULA =
  'g = (4·D(h/2) − D(h)) / 3 (Richardson extrapolation, error O(h⁴)) with central differences D(d) = (f(x₊) − f(x₋)) / (x₊ − x₋), ' +
  'x± = float32(x ± d) as fed; h = η·max(|x|, scale), scale 1 on the marking channel and, on the value channel, the largest |threshold| ' +
  'of the structural guards reading the place (else 1). All rows, 4 per input plus the base row, in one inference call.';

/**
 * POST /sensitivity without HTTP: PETRA's answer (a gradient per key the client sent, 0.0 for keys that are no ONNX
 * input) from finite differences (Richardson-extrapolated central differences) instead of autograd, plus, with `all`, every exported input ranked by
 * |gradient|. Errors: InvalidInputError (400), DiagnosticsError for an unknown transition (400) or one that is no
 * ONNX output (422).
 */
export async function computeSensitivity(model: BatchModel, nodes: NetNodes, query: SensitivityQuery): Promise<SensitivityAnswer> {
  const { net } = nodes;
  const { row, ignored } = rowFromRequest(net, query);
  checkTransition(nodes, query.target_transition);
  const column = outputColumn(nodes, query.target_transition);

  const marking = Object.keys(query.input_marking ?? {});
  const values = Object.keys(query.input_values ?? {});
  const wanted = new Set<number>();
  if (query.all === true) net.inputs.forEach((_, slot) => wanted.add(slot));
  for (const place of marking) if (net.markingSlot.has(place)) wanted.add(net.markingSlot.get(place)!);
  for (const place of values) if (net.valueSlot.has(place)) wanted.add(net.valueSlot.get(place)!);
  const slots = [...wanted].sort((a, b) => a - b);
  const result = await finiteDifferences(model, row, column, slots.map((slot) => ({ slot, scale: nodes.scales[slot] ?? 1 })));

  const gradientOf = (slot: number | undefined): number => (slot === undefined ? 0 : (result.gradients.get(slot)?.gradient ?? 0));
  const answer: SensitivityAnswer = {
    target_transition: query.target_transition,
    target_label: labelOf(net, query.target_transition),
    base_activation: result.baseActivation,
    marking_gradients: Object.fromEntries(marking.map((place) => [place, gradientOf(net.markingSlot.get(place))])),
    value_gradients: Object.fromEntries(values.map((place) => [place, gradientOf(net.valueSlot.get(place))])),
    method: {
      name: 'richardson_central_difference',
      formula: FORMULA,
      relative_step: RELATIVE_STEP,
      measured_error: { ...MEASURED_ERROR },
      accuracy: ACCURACY_NOTE,
      inference_calls: result.calls,
      rows: result.rows,
    },
  };
  if (query.all === true) answer.ranked_gradients = rank(nodes, row, result.gradients);
  return ignored.length > 0 ? { ...answer, ignored_inputs: [...ignored] } : answer;
}

/** Every exported input by decreasing |gradient| (ties in input order), with the trace attribute its spec reads. */
function rank(nodes: NetNodes, row: Float32Array, gradients: ReadonlyMap<number, { gradient: number; step: number }>): RankedGradient[] {
  const attributes = new Map<number, string>();
  for (const entry of [...nodes.net.markingSpec, ...nodes.net.valuesSpec]) if (entry.slot >= 0 && entry.source.kind === 'attribute') attributes.set(entry.slot, entry.source.attribute);
  const entries = nodes.net.inputs.map((input, slot): RankedGradient => {
    const { gradient, step } = gradients.get(slot) ?? { gradient: 0, step: 0 };
    const attribute = attributes.get(slot);
    const named = { input: input.name, place: input.place, channel: input.channel };
    return { ...named, ...(attribute === undefined ? {} : { attribute }), value: row[slot]!, gradient, step };
  });
  return entries.sort((a, b) => Math.abs(b.gradient) - Math.abs(a.gradient));
}
