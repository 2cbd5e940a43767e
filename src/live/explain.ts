import { labelOf, type Net } from '../scoring/net.js';
import { isObserved, type Observed } from '../scoring/observed.js';
import type { TraceScore } from '../scoring/residuals.js';
import type { ExplanationItem, TopTransition } from './events.js';

const TOP = 3;

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

  /** The (up to) three largest residuals, largest first; ties keep transition-id order. */
  top(score: TraceScore, observed: Observed): TopTransition[] {
    const best: [string, number][] = [];
    for (const [transition, residual] of Object.entries(score.per_transition_residuals)) {
      if (best.length === TOP && residual <= best[TOP - 1]![1]) continue;
      let at = best.length;
      while (at > 0 && best[at - 1]![1] < residual) at--;
      best.splice(at, 0, [transition, residual]);
      if (best.length > TOP) best.pop();
    }
    return best.map(([id, residual]) => ({ id, label: labelOf(this.net, id), residual, activation: this.activationOf(residual, this.observedOf(id, observed)) }));
  }

  /** Every transition whose residual exceeds the floor, largest residual first. */
  explain(score: TraceScore, observed: Observed): ExplanationItem[] {
    const items: ExplanationItem[] = [];
    for (const [id, residual] of Object.entries(score.per_transition_residuals)) {
      if (!(residual > this.floor)) continue;
      const seen = this.observedOf(id, observed);
      const expected = this.activationOf(residual, seen);
      const label = labelOf(this.net, id);
      items.push({ id, label, residual, expected, observed: seen, kind: seen === 0 ? 'missing' : 'unexpected', text: explanationText(label, expected, seen) });
    }
    return items.sort((a, b) => b.residual - a.residual);
  }

  summary(caseId: string, traceScore: number, threshold: number, items: readonly ExplanationItem[]): string {
    const head = `${caseId} scored ${traceScore.toFixed(2)} (alert threshold ${threshold})`;
    if (items.length === 0) return `${head}: no single transition has a residual above ${this.floor}; the score is many small deviations`;
    return `${head}: ${items.map((i) => i.text).join('; ')}`;
  }
}
