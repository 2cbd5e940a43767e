import type { Net } from '../scoring/net.js';

/**
 * Request examples for the routes that take a body, keyed `<method> <path>` as in the OpenAPI document. The schemas'
 * own examples are written for the default bundle (loan_approval); served with another bundle, Swagger UI's "Try it
 * out" would send places, transitions and names that bundle does not have. These are made from the loaded bundle:
 * its first marking place at 1, the attributes its specs read, and the events the model expects at that marking.
 */
export type RequestExamples = Readonly<Record<string, readonly unknown[]>>;

/** Whether the schemas' written examples name only what `net` has: the default bundle, or a copy of it. */
export function writtenExamplesFit(net: Net): boolean {
  return (
    net.markingSlot.has('p_application') &&
    ['t_approve', 't_decline'].every((t) => net.outputs.includes(t)) &&
    ['approve loan', 'decline loan'].every((label) => net.labelColumn.has(label)) &&
    net.markingSpec.some((entry) => entry.source.kind === 'attribute' && entry.source.attribute === 'risk_score')
  );
}

/** The marking the examples score: the first marking place at 1, the others at their defaults (omitted). */
export function exampleMarking(net: Net): Record<string, number> {
  const place = net.markingSlot.keys().next();
  return place.done === true ? {} : { [place.value]: 1 };
}

/**
 * The examples for `net`, given `expected`: the labels of the transitions the model activates above 0.5 at
 * `exampleMarking(net)` (from one forward pass at startup), so that the first /anomaly example scores low.
 */
export function bundleExamples(net: Net, expected: readonly string[]): RequestExamples {
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
    'post /events': [{ events: [{ case_id: 'C1', name: anyLabel, attributes }, ...expected.slice(1).map((name) => ({ case_id: 'C1', name }))] }],
    ...(target === undefined ? {} : { 'post /sensitivity': [{ input_marking, target_transition: target }] }),
    ...(target === undefined ? {} : { 'post /counterfactual': [counterfactualExample(net, input_marking, target)] }),
  };
}

/**
 * Flips the examples' marking place, else (a net whose inputs are all on the value channel) its first value place:
 * without one, Swagger UI would keep the written example, which flips loan_approval's p_application. A net has at least
 * one input (the sidecar is refused otherwise).
 */
function counterfactualExample(net: Net, input_marking: Record<string, number>, target: string): Record<string, unknown> {
  const place = Object.keys(input_marking)[0];
  if (place !== undefined) return { input_marking, flip_place: place, target_transition: target };
  const valuePlace = [...net.valueSlot.keys()][0] ?? '';
  return { input_marking, input_values: { [valuePlace]: 1 }, flip_place: valuePlace, flip_channel: 'value', target_transition: target };
}
