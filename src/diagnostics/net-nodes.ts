import { pythonStrRepr } from '../scoring/python-repr.js';
import { shortened } from '../scoring/quote-value.js';
import { compareCodePoints, type Channel, type Net } from '../scoring/net.js';
import { DiagnosticsError } from './errors.js';

/** The parts of the sidecar the diagnostics read (a structural subset of `Sidecar`). */
export interface SidecarNodes {
  readonly places?: readonly string[] | undefined;
  readonly transition_labels: Readonly<Record<string, string>>;
  readonly initial_marking?: Readonly<Record<string, number>> | undefined;
  readonly structural_guards?: Readonly<Record<string, unknown>> | undefined;
}

/** What the diagnostics know about the net beyond its ONNX inputs and outputs: PETRA's node sets, for PETRA's 400s. */
export interface NetNodes {
  readonly net: Net;
  /** PETRA's `net.places`: the sidecar's `places` (plus the input places, which are places by construction). */
  readonly places: ReadonlySet<string>;
  /** PETRA's `net.transitions`: the keys of `transition_labels` plus the output transitions. */
  readonly transitions: ReadonlySet<string>;
  /** Exported inputs per channel, place ids sorted: the only places a counterfactual can flip over ONNX. */
  readonly flippable: { readonly marking: readonly string[]; readonly value: readonly string[] };
  /** Per input slot, the unit of the finite-difference step (see `inputScale`). */
  readonly scales: readonly number[];
}

/**
 * The natural unit of an input: 1 for a marking (activations live in [0, 1]); for a value input, the largest
 * |threshold| of the structural guards that read it (PETRA scales a guard's sigmoid by 1 / max(|threshold|, 1), so
 * that is the distance over which the activation changes), else 1.
 */
export function inputScale(channel: Channel, place: string, guards: Readonly<Record<string, unknown>> | undefined): number {
  let scale = 1;
  if (channel !== 'value' || guards === undefined) return scale;
  for (const guard of Object.values(guards)) {
    if (typeof guard !== 'object' || guard === null) continue;
    const { place: guarded, value } = guard as { place?: unknown; value?: unknown };
    if (guarded === place && typeof value === 'number' && Number.isFinite(value)) scale = Math.max(scale, Math.abs(value));
  }
  return scale;
}

/** The places a counterfactual can flip over ONNX: the exported inputs per channel, sorted (GET /schema's flippable_places). */
export function flippablePlaces(net: Net): { marking: string[]; value: string[] } {
  const onChannel = (channel: Channel) => [...new Set(net.inputs.filter((i) => i.channel === channel).map((i) => i.place))].sort(compareCodePoints);
  return { marking: onChannel('marking'), value: onChannel('value') };
}

export function netNodes(net: Net, sidecar: SidecarNodes): NetNodes {
  const places = new Set(sidecar.places ?? Object.keys(sidecar.initial_marking ?? {}));
  for (const input of net.inputs) places.add(input.place);
  const transitions = new Set([...Object.keys(sidecar.transition_labels), ...net.outputs]);
  return {
    net,
    places,
    transitions,
    flippable: flippablePlaces(net),
    scales: net.inputs.map((i) => inputScale(i.channel, i.place, sidecar.structural_guards)),
  };
}

/** PETRA's 400 for a `target_transition` that is no transition of the net. */
export function checkTransition(nodes: NetNodes, transition: string): void {
  if (!nodes.transitions.has(transition)) {
    throw new DiagnosticsError('unknown_transition', '/target_transition', `target_transition ${pythonStrRepr(shortened(transition))} is not in the net's transition set`);
  }
}

/** Our 422 for a transition of the net that is no ONNX output; else its output column. */
export function outputColumn(nodes: NetNodes, transition: string): number {
  const column = nodes.net.outputs.indexOf(transition);
  if (column < 0) {
    throw new DiagnosticsError(
      'transition_not_output',
      '/target_transition',
      `target_transition ${pythonStrRepr(shortened(transition))} is a transition of the net but no output of the ONNX graph, so its activation cannot be computed; outputs: ${nodes.net.outputs.join(', ')}`,
    );
  }
  return column;
}

/** PETRA's 400 for a `flip_place` that is no place (checked before the transition, as PETRA does). */
export function checkPlace(nodes: NetNodes, place: string): void {
  if (!nodes.places.has(place)) throw new DiagnosticsError('unknown_place', '/flip_place', `flip_place ${pythonStrRepr(shortened(place))} is not in the net's place set`);
}

/** Our 422 for a place of the net that is no exported input on the channel; else its input slot. */
export function flipSlot(nodes: NetNodes, place: string, channel: Channel): number {
  const slot = (channel === 'marking' ? nodes.net.markingSlot : nodes.net.valueSlot).get(place);
  if (slot === undefined) {
    const flippable = nodes.flippable[channel];
    throw new DiagnosticsError(
      'place_not_flippable',
      '/flip_place',
      `flip_place ${pythonStrRepr(shortened(place))} is a place of the net but no ONNX input on the ${channel} channel, so it cannot be varied; ` +
        (flippable.length > 0 ? `flippable places on that channel: ${flippable.join(', ')}` : 'no place is flippable on that channel') +
        ' (GET /schema lists them under flippable_places)',
    );
  }
  return slot;
}
