import type { OnnxRunner } from './onnx-runner.js';

export interface BatcherOptions {
  /** Rows per ONNX run at most. */
  maxBatch: number;
}

interface Pending {
  rows: Float32Array;
  count: number;
  resolve: (activations: Float32Array) => void;
  reject: (error: unknown) => void;
}

export interface BatchObserver {
  onRun?(rows: number, seconds: number): void;
}

/**
 * Gathers the rows of requests that arrive in the same turn of the event loop into one ONNX run: a run costs almost
 * the same for 1 row as for 1,000, so concurrent callers share it. Each caller gets a view of exactly its own rows.
 */
export class InferenceBatcher {
  private queue: Pending[] = [];
  private queuedRows = 0;
  private scheduled = false;

  constructor(
    private readonly runner: OnnxRunner,
    /** Inputs per row. */
    readonly width: number,
    /** Activations per row. */
    readonly outputs: number,
    private readonly options: BatcherOptions,
    private readonly observer: BatchObserver = {},
  ) {}

  /** Activations for `count` rows laid out back to back in `rows`. */
  infer(rows: Float32Array, count: number): Promise<Float32Array> {
    if (count === 0) return Promise.resolve(new Float32Array(0));
    if (count >= this.options.maxBatch) return this.runChunks(rows, count);
    return new Promise((resolve, reject) => {
      this.queue.push({ rows, count, resolve, reject });
      this.queuedRows += count;
      if (this.queuedRows >= this.options.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private async runChunks(rows: Float32Array, count: number): Promise<Float32Array> {
    const out = new Float32Array(count * this.outputs);
    for (let start = 0; start < count; start += this.options.maxBatch) {
      const n = Math.min(this.options.maxBatch, count - start);
      const part = await this.timedRun(rows.subarray(start * this.width, (start + n) * this.width), n);
      out.set(part, start * this.outputs);
    }
    return out;
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    const total = this.queuedRows;
    this.queue = [];
    this.queuedRows = 0;
    if (batch.length === 0) return;
    let rows: Float32Array;
    if (batch.length === 1) rows = batch[0]!.rows;
    else {
      rows = new Float32Array(total * this.width);
      let at = 0;
      for (const p of batch) {
        rows.set(p.rows.subarray(0, p.count * this.width), at);
        at += p.count * this.width;
      }
    }
    this.timedRun(rows, total).then(
      (activations) => {
        let at = 0;
        for (const p of batch) {
          p.resolve(activations.subarray(at * this.outputs, (at + p.count) * this.outputs));
          at += p.count;
        }
      },
      (error: unknown) => batch.forEach((p) => p.reject(error)),
    );
  }

  private async timedRun(rows: Float32Array, count: number): Promise<Float32Array> {
    const started = process.hrtime.bigint();
    const result = await this.runner.run(rows, count);
    this.observer.onRun?.(count, Number(process.hrtime.bigint() - started) / 1e9);
    return result;
  }
}
