import { labelOf, type Net } from '../scoring/net.js';
import { isObserved, type Observed } from '../scoring/observed.js';
import type { ColumnScore } from '../scoring/residuals.js';
import type { AlertRecord } from './alert-record.js';
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
  constructor(
    private readonly net: Net,
    readonly floor: number,
  ) {}

  activationOf(residual: number, observed: 0 | 1): number {
    return observed === 1 ? Math.fround(1 - residual) : residual;
  }

  /** Fills the record's `top` with the (up to) three largest residuals, largest first; ties keep transition-id order. */
  top(record: EvaluationRecord, score: ColumnScore, observed: Observed): void {
    for (const column of this.net.scoreOrder) {
      const residual = score.residualAt(column);
      const seen = isObserved(observed, column) ? 1 : 0;
      record.offerTop(column, residual, this.activationOf(residual, seen), seen);
    }
  }

  /**
   * Writes into `alert` the transitions whose residual exceeds the floor, largest residual first (equal residuals in
   * transition-id order), at most MAX_EXPLAINED, and how many more there are. Numbers only, into the record's own
   * arrays: the words are built when the alert is read.
   */
  rank(score: ColumnScore, observed: Observed, alert: AlertRecord): void {
    const { columns, residuals } = alert;
    let count = 0;
    let omitted = 0;
    for (const column of this.net.scoreOrder) {
      const residual = score.residualAt(column);
      if (!(residual > this.floor)) continue;
      if (count === MAX_EXPLAINED) {
        omitted++;
        if (!(residual > residuals[MAX_EXPLAINED - 1]!)) continue;
      } else {
        count++;
      }
      // Insertion after every equal residual keeps transition-id order among equals.
      let at = count - 1;
      while (at > 0 && residual > residuals[at - 1]!) {
        columns[at] = columns[at - 1]!;
        residuals[at] = residuals[at - 1]!;
        at--;
      }
      columns[at] = column;
      residuals[at] = residual;
    }
    for (let i = 0; i < count; i++) alert.observed[i] = isObserved(observed, columns[i]!) ? 1 : 0;
    alert.count = count;
    alert.omitted = omitted;
  }

  /**
   * Which transitions are above the floor and how (missing or unexpected), as `column * 2 + observed` in transition
   * order: an open case whose anomaly has not changed is not alerted again.
   */
  signature(score: ColumnScore, observed: Observed): number[] {
    const signature: number[] = [];
    for (const column of this.net.scoreOrder) {
      if (score.residualAt(column) > this.floor) signature.push(column * 2 + (isObserved(observed, column) ? 1 : 0));
    }
    return signature;
  }

  /** Whether the score's signature equals `previous`, found without building it (most re-evaluations are equal). */
  sameSignature(score: ColumnScore, observed: Observed, previous: readonly number[] | undefined): boolean {
    if (previous === undefined) return false;
    let at = 0;
    for (const column of this.net.scoreOrder) {
      if (!(score.residualAt(column) > this.floor)) continue;
      if (previous[at] !== column * 2 + (isObserved(observed, column) ? 1 : 0)) return false;
      at++;
    }
    return at === previous.length;
  }

  /** The explanation items of an alert, in words. */
  items(alert: AlertRecord): ExplanationItem[] {
    const items: ExplanationItem[] = [];
    for (let i = 0; i < alert.count; i++) {
      const id = this.net.outputs[alert.columns[i]!]!;
      const seen = alert.observed[i] === 1 ? 1 : 0;
      const residual = alert.residuals[i]!;
      const expected = this.activationOf(residual, seen);
      const label = labelOf(this.net, id);
      items.push({ id, label, residual, expected, observed: seen, kind: seen === 0 ? 'missing' : 'unexpected', text: explanationText(label, expected, seen) });
    }
    return items;
  }

  summary(caseId: string, traceScore: number, threshold: number, items: readonly ExplanationItem[], omitted = 0): string {
    const head = `${caseId} scored ${traceScore.toFixed(2)} (alert threshold ${threshold})`;
    if (items.length === 0) return `${head}: no single transition has a residual above ${this.floor}; the score is many small deviations`;
    const more = items.length - SUMMARY_ITEMS + omitted;
    const named = items.slice(0, SUMMARY_ITEMS).map((i) => i.text).join('; ');
    return more > 0 ? `${head}: ${named}; and ${more} more` : `${head}: ${named}`;
  }
}
