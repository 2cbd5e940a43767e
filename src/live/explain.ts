import { labelOf, type Net } from '../scoring/net.js';
import { isObserved, type Observed } from '../scoring/observed.js';
import type { TraceScore } from '../scoring/residuals.js';
import type { EvaluationRecord } from './evaluation-record.js';
import type { ExplanationItem } from './events.js';

/** Items an alert explains at most; the rest is counted. */
export const MAX_EXPLAINED = 20;
/** Items the one-sentence summary names at most. */
const SUMMARY_ITEMS = 5;

/** An activation or score with 2 decimals ("0.99"), never rounded onto 1.00 or 0.00 when it is not exactly that. */
export function shown(value: number): string {
  if (value > 0.995 && value < 1) return '>0.99';
  if (value > 0 && value < 0.005) return '<0.01';
  return value.toFixed(2);
}

export function explanationText(label: string, expected: number, observed: 0 | 1): string {
  return observed === 0 ? `expected ${label} (${shown(expected)}), never observed` : `observed ${label}, not expected (${shown(expected)})`;
}

/**
 * Turns a score into words. The activation is recovered exactly from what scoring already computed: residual =
 * |activation − observed| in float32 with activations in [0, 1], so activation = residual when the transition was not
 * observed and 1 − residual (rounded to float32) when it was.
 */
export class Explainer {
  private readonly columns: ReadonlyMap<string, number>;

  constructor(
    private readonly net: Net,
    readonly floor: number,
  ) {
    this.columns = new Map(net.outputs.map((transition, column) => [transition, column]));
  }

  observedOf(transition: string, observed: Observed): 0 | 1 {
    const column = this.columns.get(transition);
    return column !== undefined && isObserved(observed, column) ? 1 : 0;
  }

  activationOf(residual: number, observed: 0 | 1): number {
    return observed === 1 ? Math.fround(1 - residual) : residual;
  }

  /** Fills the record's `top` with the (up to) three largest residuals, largest first; ties keep transition-id order. */
  top(record: EvaluationRecord, score: TraceScore, observed: Observed): void {
    const residuals = score.per_transition_residuals;
    for (const column of this.net.scoreOrder) {
      const residual = residuals[this.net.outputs[column]!]!;
      record.offerTop(column, residual, this.activationOf(residual, isObserved(observed, column) ? 1 : 0));
    }
  }

  /** The transitions whose residual exceeds the floor, largest residual first, at most MAX_EXPLAINED; and how many more. */
  explain(score: TraceScore, observed: Observed): { items: ExplanationItem[]; omitted: number } {
    const above: [string, number][] = [];
    const residuals = score.per_transition_residuals;
    for (const id in residuals) if (residuals[id]! > this.floor) above.push([id, residuals[id]!]);
    above.sort((a, b) => b[1] - a[1]);
    const items: ExplanationItem[] = [];
    for (const [id, residual] of above.slice(0, MAX_EXPLAINED)) {
      const seen = this.observedOf(id, observed);
      const expected = this.activationOf(residual, seen);
      const label = labelOf(this.net, id);
      items.push({ id, label, residual, expected, observed: seen, kind: seen === 0 ? 'missing' : 'unexpected', text: explanationText(label, expected, seen) });
    }
    return { items, omitted: above.length - items.length };
  }

  summary(caseId: string, traceScore: number, threshold: number, items: readonly ExplanationItem[], omitted = 0): string {
    const head = `${caseId} scored ${traceScore.toFixed(2)} (alert threshold ${threshold})`;
    if (items.length === 0) return `${head}: no single transition has a residual above ${this.floor}; the score is many small deviations`;
    const more = items.length - SUMMARY_ITEMS + omitted;
    const named = items.slice(0, SUMMARY_ITEMS).map((i) => i.text).join('; ');
    return more > 0 ? `${head}: ${named}; and ${more} more` : `${head}: ${named}`;
  }
}
