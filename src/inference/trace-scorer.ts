import type { Net } from '../scoring/net.js';
import type { Observed } from '../scoring/observed.js';
import { activationsRecord, ScoredRow } from '../scoring/residuals.js';
import type { InferenceBatcher } from './batcher.js';

/** Rows in, PETRA scores out: the one code path that HTTP, streaming and batch scoring share. */
export class TraceScorer {
  constructor(
    readonly net: Net,
    private readonly batcher: InferenceBatcher,
  ) {}

  /** The score kept as the output row, for callers that write it out themselves. */
  scoreRow(row: Float32Array, observed: Observed): Promise<ScoredRow> {
    // Not async: one promise less per request on the hottest path.
    return this.batcher.infer(row, 1).then((activations) => new ScoredRow(this.net, activations, 0, observed));
  }

  /** Many traces in one ONNX run, as output rows; `rows` holds one input row per entry of `observed`, back to back. */
  async scoreRows(rows: Float32Array, observed: readonly Observed[]): Promise<ScoredRow[]> {
    const activations = await this.batcher.infer(rows, observed.length);
    const width = this.net.outputs.length;
    return observed.map((o, i) => new ScoredRow(this.net, activations, i * width, o));
  }

  async forward(row: Float32Array): Promise<Record<string, number>> {
    return activationsRecord(this.net, await this.batcher.infer(row, 1), 0);
  }
}
