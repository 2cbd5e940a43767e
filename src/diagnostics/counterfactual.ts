import { InvalidInputError } from '../scoring/input-errors.js';
import { escapePointer, numericValue, rowFromRequest, toFinite, type NumericLike, type RequestInputs } from '../scoring/inputs.js';
import { quoteValue } from '../scoring/quote-value.js';
import { labelOf, type Channel } from '../scoring/net.js';
import { batchedBisection, FIRING_THRESHOLD } from './bisection.js';
import { DiagnosticsError } from './errors.js';
import type { BatchModel } from './model.js';
import { checkPlace, checkTransition, flipSlot, outputColumn, type NetNodes } from './net-nodes.js';

/** A `/counterfactual` body, defaults not yet applied. */
export interface CounterfactualQuery extends RequestInputs {
  flip_place: string;
  target_transition: string;
  flip_channel?: Channel | undefined;
  search_range?: readonly NumericLike[] | undefined;
  tolerance?: NumericLike | undefined;
  nearest?: boolean | undefined;
}

export interface CounterfactualAnswer {
  found: boolean;
  target_transition: string;
  target_label: string | null;
  flipped_place: string | null;
  flipped_channel: Channel | null;
  original_input: number | null;
  counterfactual_input: number | null;
  original_activation: number | null;
  counterfactual_activation: number | null;
  fed_input: number;
  search: {
    strategy: 'bisection' | 'nearest';
    levels_per_call: number;
    grid_points: number;
    crossings_on_grid: number;
    iterations: number;
    within_tolerance: boolean;
    flips_decision: boolean;
    inference_calls: number;
    rows: number;
  };
  ignored_inputs?: string[];
}

/** PETRA's request defaults (rest.py `CounterfactualRequest`). */
export const COUNTERFACTUAL_DEFAULTS = { flip_channel: 'marking', search_range: [0, 1], tolerance: 1e-3 } as const;

/** An input rowFromRequest has already accepted: a number, a numeric string, or a boolean (1.0 / 0.0, as pydantic reads it). */
const numberOf = (value: NumericLike): number => numericValue(value)!;

/** `tolerance` as PETRA's pydantic model reads it (a number, a numeric string, a boolean), which must be finite and ≥ 0. */
function toleranceOf(value: NumericLike): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  const number = numericValue(value);
  if (number === undefined) throw new InvalidInputError('/tolerance', `must be a number, got ${quoteValue(value)}`);
  if (!(number >= 0 && Number.isFinite(number))) throw new InvalidInputError('/tolerance', `must be a finite number ≥ 0, got ${quoteValue(value)}`);
  return number;
}

/**
 * POST /counterfactual without HTTP: PETRA's checks and answer shape, the search done by `batchedBisection` in
 * `levels`-deep batched calls. Errors: InvalidInputError (400) for a non-numeric input, DiagnosticsError for the rest
 * (see errors.ts for which is 400 and which 422, and in what order PETRA's own 400s come).
 */
export async function findCounterfactual(model: BatchModel, nodes: NetNodes, query: CounterfactualQuery, levels: number): Promise<CounterfactualAnswer> {
  const { row, ignored } = rowFromRequest(nodes.net, query);
  const channel = query.flip_channel ?? COUNTERFACTUAL_DEFAULTS.flip_channel;
  const [lo, hi] = (query.search_range ?? COUNTERFACTUAL_DEFAULTS.search_range).map((value, i) => toFinite(value, `/search_range/${i}`)) as [number, number];
  if (!(lo <= hi)) throw new DiagnosticsError('invalid_search_range', '/search_range', `search_range must be [lo, hi] with lo ≤ hi, got [${lo}, ${hi}]`);
  const tolerance = toleranceOf(query.tolerance ?? COUNTERFACTUAL_DEFAULTS.tolerance);
  const place = query.flip_place;
  const transition = query.target_transition;

  checkPlace(nodes, place);
  checkTransition(nodes, transition);
  const slot = flipSlot(nodes, place, channel);
  const column = outputColumn(nodes, transition);

  let originalInput: number;
  if (channel === 'value') {
    const values = query.input_values;
    if (values === undefined || values === null) {
      throw new DiagnosticsError('missing_flip_value', '/input_values', `flip_channel 'value' varies input_values[${JSON.stringify(place)}], so input_values must be given and hold it`);
    }
    const supplied = Object.hasOwn(values, place) ? values[place] : undefined;
    if (supplied === undefined) throw new DiagnosticsError('missing_flip_value', `/input_values/${escapePointer(place)}`, `flip_channel 'value' varies input_values[${JSON.stringify(place)}], but input_values has no ${JSON.stringify(place)}`);
    originalInput = numberOf(supplied);
  } else {
    const supplied = Object.hasOwn(query.input_marking ?? {}, place) ? query.input_marking?.[place] : undefined;
    originalInput = supplied === undefined ? 0.0 : numberOf(supplied);
  }

  const fedInput = row[slot]!;
  const nearest = query.nearest === true;
  const result = await batchedBisection(model, { base: row, slot, column, range: [lo, hi], tolerance }, { levels, nearestTo: nearest ? fedInput : undefined });
  const search = {
    strategy: nearest ? ('nearest' as const) : ('bisection' as const),
    levels_per_call: levels,
    grid_points: result.gridPoints ?? 0,
    crossings_on_grid: result.crossingsOnGrid ?? 0,
    iterations: result.iterations,
    // PETRA also stops when the bracket is narrower than 1e-4 of the range: on a wide range that can be far from 0.5.
    within_tolerance: result.activation !== null && Math.abs(result.activation - FIRING_THRESHOLD) < tolerance,
    // PETRA answers the last midpoint within tolerance of 0.5, on whichever side: it may still fire as before.
    flips_decision: result.found && result.activation !== null && (result.originalActivation - FIRING_THRESHOLD) * (result.activation - FIRING_THRESHOLD) < 0,
    inference_calls: result.calls,
    rows: result.rows,
  };
  const answer: CounterfactualAnswer = result.found
    ? {
        found: true,
        target_transition: transition,
        target_label: labelOf(nodes.net, transition),
        flipped_place: place,
        flipped_channel: channel,
        original_input: originalInput,
        counterfactual_input: result.input,
        original_activation: result.originalActivation,
        counterfactual_activation: result.activation,
        fed_input: fedInput,
        search,
      }
    : {
        found: false,
        target_transition: transition,
        target_label: null,
        flipped_place: null,
        flipped_channel: null,
        original_input: null,
        counterfactual_input: null,
        original_activation: null,
        counterfactual_activation: null,
        fed_input: fedInput,
        search,
      };
  return ignored.length > 0 ? { ...answer, ignored_inputs: [...ignored] } : answer;
}
