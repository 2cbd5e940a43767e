import { rowFromAttributes, rowFromRequest, type RequestInputs } from './inputs.js';
import type { Net } from './net.js';
import type { Observed } from './observed.js';
import type { AttributeValue } from './python-float.js';
import { observeNames } from './residuals.js';

export interface TraceRequest extends RequestInputs {
  events: readonly { name: string }[];
  attributes?: Record<string, AttributeValue> | undefined;
}

export interface PreparedTrace {
  row: Float32Array;
  observed: Observed;
  ignored: string[];
}

/**
 * An /anomaly request → the input row and observed labels. With `input_marking` present this is PETRA's REST
 * semantics exactly; without it the marking (and the values, unless given) come from `attributes` through the
 * sidecar's specs, as petra-score does. Throws InvalidInputError or SpecResolutionError.
 */
export function prepareTrace(net: Net, request: TraceRequest): PreparedTrace {
  const { row, ignored } = rowFromRequest(net, request);
  if (request.input_marking === undefined) {
    rowFromAttributes(net, request.attributes ?? {}, { marking: true, values: request.input_values === undefined }, row);
  }
  return { row, observed: observeNames(net, request.events.map((e) => e.name)), ignored };
}
