import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { TraceScorer } from '../inference/trace-scorer.js';
import type { Net } from '../scoring/net.js';
import type { Observed } from '../scoring/observed.js';
import type { ScoredRow } from '../scoring/residuals.js';
import { prepareTrace } from '../scoring/prepare-trace.js';
import { AnomalyRequest } from '../schemas/anomaly.js';
import { describeError } from './describe-error.js';
import { BatchAnswer, type BatchItemError, type BatchOutcome } from './score-json.js';
import { checkTraceLimits } from './request-limit.js';
import { firstErrors } from './validator-compiler.js';

const checkItem = TypeCompiler.Compile(AnomalyRequest);

/** The error body /anomaly would have answered for this item alone, with its paths moved under `body/traces/<index>`. */
function itemError(index: number, error: unknown, item: unknown): BatchItemError {
  const { status, body } = describeError(error, 0, { body: item, schema: { body: AnomalyRequest } });
  if (status >= 500) throw error;
  const base = `body/traces/${index}`;
  const rebase = (text: string) => text.replace(/^body(?=[/:]|$)/, base);
  return { index, error: { ...body, message: rebase(body.message), details: body.details.map((d) => ({ ...d, path: rebase(d.path), message: rebase(d.message) })) } };
}

/** An item that passed the /anomaly schema and was scored: what the live view publishes for it. */
export interface ScoredItem {
  readonly index: number;
  readonly trace: AnomalyRequest;
  readonly row: ScoredRow;
}

/**
 * /anomaly/batch: every item is validated against the /anomaly schema on its own, so one bad item yields an error
 * entry instead of failing the request; the good ones are scored in one inference run.
 */
export async function scoreTraceBatch(net: Net, scorer: TraceScorer, items: readonly unknown[], maxEvents: number): Promise<{ outcome: BatchOutcome; scored: ScoredItem[] }> {
  const results: BatchOutcome['results'] = new Array(items.length);
  const width = net.inputs.length;
  // The good items' rows, back to back in one buffer: a refused item's row is overwritten by the next.
  const rows = new Float32Array(items.length * width);
  const ready: { index: number; trace: AnomalyRequest; observed: Observed; ignored: readonly string[] }[] = [];
  items.forEach((item, index) => {
    try {
      if (!checkItem.Check(item)) {
        const validation = firstErrors(checkItem.Errors(item)).map((e) => ({ instancePath: e.path, message: e.message }));
        throw Object.assign(new Error('invalid batch item'), { validation, validationContext: 'body' });
      }
      checkTraceLimits(item, maxEvents);
      const at = ready.length * width;
      const { observed, ignored } = prepareTrace(net, item, rows.subarray(at, at + width));
      ready.push({ index, trace: item, observed, ignored });
    } catch (error) {
      results[index] = itemError(index, error, item);
    }
  });
  const scores = await scorer.scoreRows(rows.subarray(0, ready.length * width), ready.map((r) => r.observed));
  const scored = ready.map((r, i): ScoredItem => {
    const row = scores[i]!;
    results[r.index] = new BatchAnswer(r.index, row, r.ignored);
    return { index: r.index, trace: r.trace, row };
  });
  return { outcome: { results, scored: ready.length, errors: items.length - ready.length }, scored };
}
