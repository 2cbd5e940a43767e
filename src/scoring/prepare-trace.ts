import { TRACE_FIELDS } from '../schemas/anomaly.js';
import { escapePointer, rowFromAttributes, rowFromRequest, type RequestInputs } from './inputs.js';
import type { Net } from './net.js';
import { emptyObserved, markObserved, type Observed } from './observed.js';
import type { AttributeValue } from './python-float.js';

export interface TraceRequest extends RequestInputs {
  events: readonly { name: string }[];
  attributes?: Record<string, AttributeValue> | null | undefined;
}

export interface PreparedTrace {
  row: Float32Array;
  observed: Observed;
  ignored: readonly string[];
}

const MARKING_AND_VALUES = { marking: true, values: true };
const MARKING_ONLY = { marking: true, values: false };

/**
 * An /anomaly request → the input row and observed labels. With `input_marking` present this is PETRA's REST
 * semantics exactly; without it the marking (and the values, unless given) come from `attributes` through the
 * sidecar's specs, as petra-score does. Throws InvalidInputError or SpecResolutionError.
 */
export function prepareTrace(net: Net, request: TraceRequest, row?: Float32Array): PreparedTrace {
  const resolved = rowFromRequest(net, request, row);
  // null as absent: Jackson writes null for a field the caller left unset, and a workflow template for a variable it
  // has no value for (input_values), meaning none given.
  if (request.input_marking == null) {
    rowFromAttributes(net, request.attributes ?? {}, request.input_values == null ? MARKING_AND_VALUES : MARKING_ONLY, resolved.row);
  }
  let observed = emptyObserved(net.outputs.length);
  let ignored: string[] | undefined;
  // A misspelt field ("attribute", "inputMarking") would otherwise pass unnoticed whenever the trace can be scored.
  for (const field in request) if (!TRACE_FIELDS.has(field)) (ignored ??= [...resolved.ignored]).push(`/${escapePointer(field)}`);
  const events = request.events;
  for (let i = 0; i < events.length; i++) {
    const column = net.labelColumn.get(events[i]!.name);
    // Ignored as PETRA ignores it, and said so: "Approve Loan" for "approve loan" is the integrator's usual mistake.
    if (column === undefined) (ignored ??= [...resolved.ignored]).push(`/events/${i}/name`);
    else observed = markObserved(observed, column);
  }
  return { row: resolved.row, observed, ignored: ignored ?? resolved.ignored };
}
