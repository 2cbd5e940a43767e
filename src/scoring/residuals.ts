import { markObserved, isObserved, emptyObserved, type Observed } from './observed.js';
import type { Net } from './net.js';

export interface TraceScore {
  trace_score: number;
  per_transition_residuals: Record<string, number>;
}

/** A transition is observed iff some event name equals its label exactly; other names are ignored (PETRA 1a). */
export function observeNames(net: Net, names: Iterable<string>, observed: Observed = emptyObserved(net.outputs.length)): Observed {
  let result = observed;
  for (const name of names) {
    const column = net.labelColumn.get(name);
    if (column !== undefined) result = markObserved(result, column);
  }
  return result;
}

/**
 * PETRA's `anomaly_score` plus the callers' sum: residual = |activation − observed| in float32, trace_score = the
 * double-precision sum in sorted-id order. `activations` holds the output row starting at `offset`.
 */
export function scoreRow(net: Net, activations: Float32Array, offset: number, observed: Observed): TraceScore {
  const residuals: Record<string, number> = {};
  let total = 0;
  for (const column of net.scoreOrder) {
    const activation = activations[offset + column]!;
    const residual = Math.fround(Math.abs(activation - (isObserved(observed, column) ? 1 : 0)));
    residuals[net.outputs[column]!] = residual;
    total += residual;
  }
  return { trace_score: total, per_transition_residuals: residuals };
}

/** Output activations keyed by transition id, in output order. */
export function activationsRecord(net: Net, activations: Float32Array, offset: number): Record<string, number> {
  const record: Record<string, number> = {};
  net.outputs.forEach((transition, column) => {
    record[transition] = activations[offset + column]!;
  });
  return record;
}
