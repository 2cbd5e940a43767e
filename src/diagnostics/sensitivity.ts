import { rowFromRequest, type RequestInputs } from '../scoring/inputs.js';
import { labelOf, type Channel } from '../scoring/net.js';
import { ACCURACY_NOTE, ACTIVATION_NOISE, finiteDifferences, RIDDERS, type InputGradient } from './finite-difference.js';
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
  error_estimate: number;
}

export interface SensitivityAnswer {
  target_transition: string;
  target_label: string;
  base_activation: number;
  marking_gradients: Record<string, number>;
  value_gradients: Record<string, number>;
  gradient_errors: { marking: Record<string, number>; value: Record<string, number> };
  ranked_gradients?: RankedGradient[];
  method: {
    name: 'ridders_central_difference';
    formula: string;
    initial_relative_step: number;
    step_ratio: number;
    steps: number;
    rows_per_input: number;
    max_error_estimate: number;
    accuracy: string;
    inference_calls: number;
    rows: number;
  };
  ignored_inputs?: string[];
}

const FORMULA =
  `Ridders' method: central differences D(h_k) = (f(x₊) − f(x₋)) / (x₊ − x₋), x± = float32(x ± h_k) as fed, at h_k = h₀ / ${RIDDERS.ratio}^k, ` +
  `k = 0 … ${RIDDERS.steps - 1}, h₀ = 2^${Math.log2(RIDDERS.initialStep)}·max(|x|, scale) (scale 1 on the marking channel and, on the value channel, the largest ` +
  '|threshold| of the structural guards reading the place, else 1), extrapolated to h → 0 in a Neville tableau ' +
  `(T[i][j] = (${RIDDERS.ratio}^(2j)·T[i][j−1] − T[i−1][j−1]) / (${RIDDERS.ratio}^(2j) − 1)); per input the entry whose error estimate ` +
  `max(|T[i][j] − T[i][j−1]|, |T[i][j] − T[i−1][j−1]|, |T[i][j] − T[i+1][j]| (when i is not the finest step), ` +
  `2^${Math.log2(ACTIVATION_NOISE)}·max(1, |f|) / (x₊ − x₋) at the finest step compared) is smallest. One-sided differences and ` +
  `T[i][j] = (${RIDDERS.ratio}^j·T[i][j−1] − T[i−1][j−1]) / (${RIDDERS.ratio}^j − 1) where x ± h₀ would pass the largest float32. ` +
  `All rows, ${2 * RIDDERS.steps} per input plus the base row, in one inference call.`;

/**
 * POST /sensitivity without HTTP: PETRA's answer (a gradient per key the client sent, 0.0 for keys that are no ONNX
 * input) from finite differences (Ridders' extrapolation of central differences) instead of autograd, each with its
 * error estimate, plus, with `all`, every exported input ranked by |gradient|. Errors: InvalidInputError (400),
 * DiagnosticsError for an unknown transition (400) or one that is no ONNX output (422).
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
  // A key that is no ONNX input is exactly 0.0 in PETRA too (the forward pass ignores it), so its error is 0.
  const errorOf = (slot: number | undefined): number => (slot === undefined ? 0 : (result.gradients.get(slot)?.error ?? 0));
  const errors = [...result.gradients.values()].map((g) => g.error);
  const answer: SensitivityAnswer = {
    target_transition: query.target_transition,
    target_label: labelOf(net, query.target_transition),
    base_activation: result.baseActivation,
    marking_gradients: Object.fromEntries(marking.map((place) => [place, gradientOf(net.markingSlot.get(place))])),
    value_gradients: Object.fromEntries(values.map((place) => [place, gradientOf(net.valueSlot.get(place))])),
    gradient_errors: {
      marking: Object.fromEntries(marking.map((place) => [place, errorOf(net.markingSlot.get(place))])),
      value: Object.fromEntries(values.map((place) => [place, errorOf(net.valueSlot.get(place))])),
    },
    method: {
      name: 'ridders_central_difference',
      formula: FORMULA,
      initial_relative_step: RIDDERS.initialStep,
      step_ratio: RIDDERS.ratio,
      steps: RIDDERS.steps,
      rows_per_input: 2 * RIDDERS.steps,
      max_error_estimate: errors.length > 0 ? Math.max(...errors) : 0,
      accuracy: ACCURACY_NOTE,
      inference_calls: result.calls,
      rows: result.rows,
    },
  };
  if (query.all === true) answer.ranked_gradients = rank(nodes, row, result.gradients);
  return ignored.length > 0 ? { ...answer, ignored_inputs: [...ignored] } : answer;
}

/** Every exported input by decreasing |gradient| (ties in input order), with the trace attribute its spec reads. */
function rank(nodes: NetNodes, row: Float32Array, gradients: ReadonlyMap<number, InputGradient>): RankedGradient[] {
  const attributes = new Map<number, string>();
  for (const entry of [...nodes.net.markingSpec, ...nodes.net.valuesSpec]) if (entry.slot >= 0 && entry.source.kind === 'attribute') attributes.set(entry.slot, entry.source.attribute);
  const entries = nodes.net.inputs.map((input, slot): RankedGradient => {
    const { gradient, step, error } = gradients.get(slot) ?? { gradient: 0, step: 0, error: 0 };
    const attribute = attributes.get(slot);
    const named = { input: input.name, place: input.place, channel: input.channel };
    return { ...named, ...(attribute === undefined ? {} : { attribute }), value: row[slot]!, gradient, step, error_estimate: error };
  });
  return entries.sort((a, b) => Math.abs(b.gradient) - Math.abs(a.gradient));
}
