import { markObserved, isObserved, emptyObserved, type Observed } from './observed.js';
import type { Net } from './net.js';

export interface TraceScore {
  trace_score: number;
  per_transition_residuals: Record<string, number>;
}

/** A score whose residuals can be read by output column, whichever form it is kept in. */
export interface ColumnScore {
  readonly trace_score: number;
  residualAt(column: number): number;
}

/** A transition is observed iff some event name equals its label exactly; other names are ignored (PETRA 1a). */
export function observeLabel(net: Net, observed: Observed, name: string): Observed {
  const column = net.labelColumn.get(name);
  return column === undefined ? observed : markObserved(observed, column);
}

export function observeNames(net: Net, names: Iterable<string>): Observed {
  let result = emptyObserved(net.outputs.length);
  for (const name of names) result = observeLabel(net, result, name);
  return result;
}

/**
 * One trace's score kept as its output row: PETRA's `anomaly_score` plus the callers' sum, residual = |activation −
 * observed| in float32 and trace_score = their double-precision sum in sorted-id order. The residuals are computed
 * when read, so a response can be written straight from the row (on a 200-transition net, building the id-keyed
 * record cost more than the ONNX run); `toTraceScore()` gives the record form.
 */
export class ScoredRow implements ColumnScore {
  readonly trace_score: number;

  constructor(
    readonly net: Net,
    /** The run's activations; this trace's row starts at `offset`. */
    private readonly activations: Float32Array,
    private readonly offset: number,
    readonly observed: Observed,
  ) {
    let total = 0;
    for (const column of net.scoreOrder) total += this.residualAt(column);
    this.trace_score = total;
  }

  residualAt(column: number): number {
    return Math.fround(Math.abs(this.activations[this.offset + column]! - (isObserved(this.observed, column) ? 1 : 0)));
  }

  /** The same score holding a copy of its own row, so that keeping it does not keep the whole run's activations. */
  detached(): ScoredRow {
    const width = this.net.outputs.length;
    return new ScoredRow(this.net, this.activations.slice(this.offset, this.offset + width), 0, this.observed);
  }

  toTraceScore(): TraceScore {
    const residuals: Record<string, number> = {};
    for (const column of this.net.scoreOrder) residuals[this.net.outputs[column]!] = this.residualAt(column);
    return { trace_score: this.trace_score, per_transition_residuals: residuals };
  }
}

/** Output activations keyed by transition id, in output order. */
export function activationsRecord(net: Net, activations: Float32Array, offset: number): Record<string, number> {
  const record: Record<string, number> = {};
  net.outputs.forEach((transition, column) => {
    record[transition] = activations[offset + column]!;
  });
  return record;
}
