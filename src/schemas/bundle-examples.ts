import { specAttributes, type Net } from '../scoring/net.js';
import { AnomalyBatchRequest, AnomalyRequest } from './anomaly.js';
import { CaseEvent, StreamRequest } from './cases.js';
import { CounterfactualRequest, SensitivityRequest } from './diagnostics.js';
import { ForwardRequest } from './forward.js';

/**
 * Request examples for the routes that take a body, keyed `<method> <path>` as in the OpenAPI document. The schemas'
 * own examples are written for the default bundle (loan_approval); served with another bundle, Swagger UI's "Try it
 * out" would send places, transitions and names that bundle does not have. These are made from the loaded bundle:
 * its first marking place at 1, the attributes its specs read, and the events the model expects at that marking.
 */
export type RequestExamples = Readonly<Record<string, readonly unknown[]>>;

/**
 * What each of a route's examples shows, in order, for Swagger UI's example picker (which names them example1,
 * example2… otherwise): the schemas' written examples, and those `bundleExamples` makes.
 */
const ANOMALY_SUMMARIES = ['marking given, with the events the model expects there', 'marking derived from the trace attributes'];

export const EXAMPLE_SUMMARIES: { readonly written: Readonly<Record<string, readonly string[]>>; readonly bundle: Readonly<Record<string, readonly string[]>> } = {
  written: {
    'post /forward': ['a marking', 'every input at its default'],
    'post /anomaly': ANOMALY_SUMMARIES,
    'post /counterfactual': ["PETRA's bisection over [0, 1]", 'the crossing nearest the input, with a finer tolerance'],
    'post /sensitivity': ['one transition, the inputs sent', 'every input ranked (all: true)'],
  },
  bundle: {
    'post /anomaly': ANOMALY_SUMMARIES,
  },
};

/** The request schemas whose written examples Swagger UI offers. */
const WITH_EXAMPLES: readonly { examples?: unknown }[] = [ForwardRequest, AnomalyRequest, AnomalyBatchRequest, CaseEvent, StreamRequest, CounterfactualRequest, SensitivityRequest];

/** What the written examples name: places (input keys, flip_place), transitions, event names and attributes. */
function namedByWrittenExamples(): { places: Set<string>; transitions: Set<string>; labels: Set<string>; attributes: Set<string> } {
  const named = { places: new Set<string>(), transitions: new Set<string>(), labels: new Set<string>(), attributes: new Set<string>() };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      if ((key === 'input_marking' || key === 'input_values') && typeof value === 'object' && value !== null) Object.keys(value).forEach((p) => named.places.add(p));
      else if (key === 'flip_place' && typeof value === 'string') named.places.add(value);
      else if (key === 'target_transition' && typeof value === 'string') named.transitions.add(value);
      else if (key === 'name' && typeof value === 'string') named.labels.add(value);
      else if (key === 'attributes' && typeof value === 'object' && value !== null) Object.keys(value).forEach((a) => named.attributes.add(a));
      visit(value);
    }
  };
  WITH_EXAMPLES.forEach((schema) => visit(schema.examples));
  return named;
}

/**
 * Whether the schemas' written examples fit `net` (the default bundle, or a copy of it): every place, transition and
 * event name they send is the net's, and they give every attribute its specs read.
 */
export function writtenExamplesFit(net: Net): boolean {
  const named = namedByWrittenExamples();
  const read = specAttributes(net);
  return (
    [...named.places].every((place) => net.markingSlot.has(place) || net.valueSlot.has(place)) &&
    [...named.transitions].every((t) => net.outputs.includes(t)) &&
    [...named.labels].every((label) => net.labelColumn.has(label)) &&
    read.every((attribute) => named.attributes.has(attribute))
  );
}

/** The marking the examples score: the first marking place at 1, the others at their defaults (omitted). */
export function exampleMarking(net: Net): Record<string, number> {
  const place = net.markingSlot.keys().next();
  return place.done === true ? {} : { [place.value]: 1 };
}

/** Inputs of the /counterfactual example's search: one input varied over a range, the others as in the examples. */
export interface CrossingProbe {
  readonly input_marking: Record<string, number>;
  readonly input_values?: Record<string, number>;
  readonly flip_place: string;
  readonly flip_channel: 'marking' | 'value';
  readonly search_range: readonly [number, number];
  /** The varied input's values: the range's two ends (what decides whether PETRA's bisection finds a crossing). */
  readonly points: readonly number[];
}

/** Ranges tried for a value-channel input: its scale is the data's (amounts, durations), unknown here. */
const VALUE_RANGES: readonly (readonly [number, number])[] = [[0, 1], [0, 100], [0, 10_000], [0, 1_000_000]];
const MAX_PROBES = 16;

/**
 * Where the /counterfactual example could find a crossing of 0.5: each marking place over PETRA's default [0, 1], then
 * each value place over a few ranges. The first probe whose forward passes cross 0.5 for some transition becomes the
 * example (`crossingExample`): a search over a range without one answers found: false, which shows nothing.
 */
export function crossingProbes(net: Net): CrossingProbe[] {
  const input_marking = exampleMarking(net);
  const points = (lo: number, hi: number) => [lo, hi];
  const probes: CrossingProbe[] = [...net.markingSlot.keys()].map((place) => ({ input_marking, flip_place: place, flip_channel: 'marking' as const, search_range: [0, 1] as const, points: points(0, 1) }));
  for (const place of net.valueSlot.keys()) {
    for (const range of VALUE_RANGES) probes.push({ input_marking, input_values: { [place]: range[0] }, flip_place: place, flip_channel: 'value', search_range: range, points: points(...range) });
  }
  return probes.slice(0, MAX_PROBES);
}

/** The request inputs of a probe at one of its points. */
export function probeInputs(probe: CrossingProbe, value: number): { input_marking: Record<string, number>; input_values?: Record<string, number> } {
  return probe.flip_channel === 'marking'
    ? { input_marking: { ...probe.input_marking, [probe.flip_place]: value } }
    : { input_marking: probe.input_marking, input_values: { ...probe.input_values, [probe.flip_place]: value } };
}

/**
 * The /counterfactual example from the probes' forward passes (`activations[i][k]`: probe i at its point k): the first
 * probe and transition whose activation is on opposite sides of 0.5 at the range's two ends, as PETRA's bisection needs
 * (it answers found: false otherwise, whatever crosses in between), starting from the low end; undefined when none is.
 */
export function crossingExample(net: Net, probes: readonly CrossingProbe[], activations: readonly (readonly Readonly<Record<string, number>>[])[]): Record<string, unknown> | undefined {
  for (const [i, probe] of probes.entries()) {
    const rows = activations[i] ?? [];
    const [first, last] = [rows[0], rows.at(-1)];
    if (first === undefined || last === undefined) continue;
    const target = net.outputs.find((t) => ((first[t] ?? 0) - 0.5) * ((last[t] ?? 0) - 0.5) < 0);
    if (target === undefined) continue;
    const marking = probe.flip_channel === 'marking';
    const defaultRange = marking && probe.search_range[0] === 0 && probe.search_range[1] === 1;
    return {
      ...probeInputs(probe, probe.search_range[0]),
      flip_place: probe.flip_place,
      ...(marking ? {} : { flip_channel: 'value' }),
      target_transition: target,
      ...(defaultRange ? {} : { search_range: [...probe.search_range] }),
    };
  }
  return undefined;
}

/**
 * The examples for `net`, given `expected`: the labels of the transitions the model activates above 0.5 at
 * `exampleMarking(net)` (from one forward pass at startup), so that the first /anomaly example scores low; and the
 * /counterfactual example `crossingExample` found, if any.
 */
export function bundleExamples(net: Net, expected: readonly string[], counterfactual?: Record<string, unknown>): RequestExamples {
  const input_marking = exampleMarking(net);
  // Every attribute a spec reads, at 1: what derives the same marking for the first place (and a value for the rest).
  const attributes = Object.fromEntries(
    [...net.markingSpec, ...net.valuesSpec].flatMap((entry) => (entry.source.kind === 'attribute' ? [[entry.source.attribute, '1']] : [])),
  );
  const derives = Object.keys(attributes).length > 0;
  const anyLabel = expected[0] ?? net.labelColumn.keys().next().value ?? '';
  const target = net.outputs[0];
  const events = expected.map((name) => ({ name }));
  const withMarking = { input_marking, events };
  const fromAttributes = { events, attributes };
  return {
    'post /forward': [{ input_marking }],
    'post /anomaly': derives ? [withMarking, fromAttributes] : [withMarking],
    'post /anomaly/batch': [{ traces: derives ? [withMarking, fromAttributes] : [withMarking] }],
    'post /cases/{id}/events': [{ name: anyLabel, attributes }],
    // C2 as well: DELETE /cases/{id}'s example deletes it (see DeleteCaseParams).
    'post /events': [{ events: [{ case_id: 'C1', name: anyLabel, attributes }, ...expected.slice(1).map((name) => ({ case_id: 'C1', name })), { case_id: 'C2', name: anyLabel, attributes }] }],
    ...(target === undefined ? {} : { 'post /sensitivity': [{ input_marking, target_transition: target }] }),
    ...(target === undefined ? {} : { 'post /counterfactual': [counterfactual ?? counterfactualExample(net, input_marking, target)] }),
  };
}

/**
 * Without a crossing found: flips the examples' marking place, else (a net whose inputs are all on the value channel)
 * its first value place:
 * without one, Swagger UI would keep the written example, which flips loan_approval's p_application. A net has at least
 * one input (the sidecar is refused otherwise).
 */
function counterfactualExample(net: Net, input_marking: Record<string, number>, target: string): Record<string, unknown> {
  const place = Object.keys(input_marking)[0];
  if (place !== undefined) return { input_marking, flip_place: place, target_transition: target };
  const valuePlace = [...net.valueSlot.keys()][0] ?? '';
  return { input_marking, input_values: { [valuePlace]: 1 }, flip_place: valuePlace, flip_channel: 'value', target_transition: target };
}
