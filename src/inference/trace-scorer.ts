import type { Net } from '../scoring/net.js';
import type { Observed } from '../scoring/observed.js';
import { activationsRecord, scoreRow, type TraceScore } from '../scoring/residuals.js';
import type { InferenceBatcher } from './batcher.js';

/** Rows in, PETRA scores out: the one code path that HTTP, streaming and batch scoring share. */
export class TraceScorer {
  constructor(
    readonly net: Net,
    private readonly batcher: InferenceBatcher,
  ) {}

  async score(row: Float32Array, observed: Observed): Promise<TraceScore> {
    const activations = await this.batcher.infer(row, 1);
    return scoreRow(this.net, activations, 0, observed);
  }

  /** Scores many traces in one ONNX run; `rows` holds one input row per entry of `observed`, back to back. */
  async scoreMany(rows: Float32Array, observed: readonly Observed[]): Promise<TraceScore[]> {
    const activations = await this.batcher.infer(rows, observed.length);
    const width = this.net.outputs.length;
    return observed.map((o, i) => scoreRow(this.net, activations, i * width, o));
  }

  async forward(row: Float32Array): Promise<Record<string, number>> {
    return activationsRecord(this.net, await this.batcher.infer(row, 1), 0);
  }
}
