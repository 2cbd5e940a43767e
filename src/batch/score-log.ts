import type { TraceScorer } from '../inference/trace-scorer.js';
import { isLogTraceError, type LogItem } from '../logs/index.js';
import { SpecResolutionError } from '../scoring/input-errors.js';
import { rowFromAttributes } from '../scoring/inputs.js';
import type { Observed } from '../scoring/observed.js';
import { observeNames } from '../scoring/residuals.js';
import type { ScoredRow } from '../scoring/residuals.js';
import { pythonStrRepr } from '../scoring/python-repr.js';

/** One entry of petra-score's report: a trace's score, or why it has none. */
export type ReportEntry =
  | { index: number; attributes: Record<string, string>; score: ScoredRow }
  | { index: number; attributes: Record<string, string>; error: string };

export interface ScoreLogStats {
  traces: number;
  errors: number;
  /** Scored traces with at least one event whose name is a transition label. */
  matched: number;
  /** Distinct event names that match no label (petra-score ignores them), the first UNMATCHED_KEPT of them. */
  unmatchedNames: Set<string>;
}

/** Enough to name the usual suspects in a message, bounded for logs of millions of distinct names. */
export const UNMATCHED_KEPT = 1000;

/**
 * petra-score's error text. PETRA catches only KeyError (`str()` of it quotes the message); a non-numeric attribute
 * aborts PETRA's whole run, while petrascore reports it for that trace and goes on.
 */
function errorText(error: SpecResolutionError): string {
  return error.reason === 'missing_attribute' ? `missing attribute: ${pythonStrRepr(error.message)}` : `non-numeric attribute: ${error.message}`;
}

/**
 * Scores a log in input order, `batchSize` traces per ONNX run, handing each entry to `emit` in order. The marking
 * comes from the bundle's specs applied to the trace attributes, exactly as petra-score does.
 */
export async function scoreLog(scorer: TraceScorer, items: AsyncIterable<LogItem>, batchSize: number, emit: (entry: ReportEntry) => void | Promise<void>): Promise<ScoreLogStats> {
  const net = scorer.net;
  const width = net.inputs.length;
  const stats: ScoreLogStats = { traces: 0, errors: 0, matched: 0, unmatchedNames: new Set() };
  // Entries wait here, in order, until the batch they belong to is scored.
  type Pending = { kind: 'done'; entry: ReportEntry } | { kind: 'scored'; index: number; attributes: Record<string, string>; slot: number };
  const errorEntry = (index: number, attributes: Record<string, string>, error: string): Pending => ({ kind: 'done', entry: { index, attributes, error } });
  let pending: Pending[] = [];
  let rows = new Float32Array(batchSize * width);
  let observed: Observed[] = [];

  const flush = async (): Promise<void> => {
    // Kept as output rows and written from them: a batch of id-keyed records at once held batch size × transitions
    // properties (65,536 traces of scale_2000's 2,001 residuals ran out of heap).
    const scores = observed.length > 0 ? await scorer.scoreRows(rows.subarray(0, observed.length * width), observed) : [];
    for (const p of pending) {
      const entry: ReportEntry = p.kind === 'done' ? p.entry : { index: p.index, attributes: p.attributes, score: scores[p.slot]! };
      // emit returns a promise only when its output wants to drain: waited for at once, so that no more than the
      // output's buffer of report text is held, whatever the batch size.
      const backpressure = emit(entry);
      if (backpressure !== undefined) await backpressure;
    }
    pending = [];
    observed = [];
    // scoreRows may hand the rows to a batch still in flight elsewhere, so the next batch gets fresh ones.
    rows = new Float32Array(batchSize * width);
  };

  for await (const item of items) {
    stats.traces++;
    if (isLogTraceError(item)) {
      stats.errors++;
      pending.push(errorEntry(item.index, item.attributes, item.error));
      continue;
    }
    const row = rows.subarray(observed.length * width, (observed.length + 1) * width);
    row.set(net.defaultRow);
    try {
      rowFromAttributes(net, item.attributes, undefined, row);
    } catch (error) {
      if (!(error instanceof SpecResolutionError)) throw error;
      stats.errors++;
      pending.push(errorEntry(item.index, item.attributes, errorText(error)));
      continue;
    }
    countMatches(stats, net.labelColumn, item.events);
    pending.push({ kind: 'scored', index: item.index, attributes: item.attributes, slot: observed.length });
    observed.push(observeNames(net, item.events));
    if (observed.length === batchSize) await flush();
  }
  await flush();
  return stats;
}

/** For the run's closing words: a log whose names never match (a wrong --activity-column) scores as all-anomalous. */
function countMatches(stats: ScoreLogStats, labels: ReadonlyMap<string, number>, events: readonly string[]): void {
  let matched = false;
  for (const name of events) {
    if (labels.has(name)) matched = true;
    else if (stats.unmatchedNames.size < UNMATCHED_KEPT) stats.unmatchedNames.add(name);
  }
  if (matched) stats.matched++;
}
