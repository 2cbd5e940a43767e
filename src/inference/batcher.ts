import type { ModelRunner } from './model-runner.js';

export interface BatcherOptions {
  /** Rows per ONNX run at most. */
  maxBatch: number;
  /**
   * Extra time to hold the first row of an idle queue for company, in milliseconds. 0 (the default, chosen by
   * measurement) starts a run at once; rows that arrive while it runs share the next one.
   */
  maxWaitMs?: number;
}

interface Pending {
  rows: Float32Array;
  count: number;
  /** performance.now() when the rows were queued (a double; hrtime.bigint() would allocate a BigInt per request). */
  queuedAt: number;
  resolve: (activations: Float32Array) => void;
  reject: (error: unknown) => void;
}

export interface BatchObserver {
  onRun?(rows: number, seconds: number): void;
  /** How long rows waited in the queue before their run started (once per caller). */
  onQueueWait?(seconds: number): void;
}

/**
 * Shares ONNX runs between concurrent callers, group-commit style: when the model is idle a run starts at once (a lone
 * request does not wait), and whatever arrives while a run is in progress goes into the next run together, up to
 * `maxBatch` rows. A run costs almost the same for 1 row as for 1,000, so under load the cost per request falls with
 * the load. Each caller gets a view of exactly its own rows; results do not depend on the company (the graphs are
 * row-wise).
 */
export class InferenceBatcher {
  private queue: Pending[] = [];
  private running = false;
  private scheduled = false;

  constructor(
    private readonly runner: ModelRunner,
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
      this.queue.push({ rows, count, queuedAt: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  /** A microtask at the least, so callers that enqueue in one synchronous stretch share a run. */
  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    const wait = this.options.maxWaitMs ?? 0;
    if (wait > 0) setTimeout(() => this.flush(), wait);
    else queueMicrotask(() => this.flush());
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
    if (this.running || this.queue.length === 0) return;
    const batch: Pending[] = [];
    let total = 0;
    while (this.queue.length > 0 && (batch.length === 0 || total + this.queue[0]!.count <= this.options.maxBatch)) {
      const next = this.queue.shift()!;
      batch.push(next);
      total += next.count;
    }
    let rows: Float32Array;
    if (batch.length === 1) rows = batch[0]!.rows;
    else {
      rows = new Float32Array(total * this.width);
      let at = 0;
      for (const p of batch) {
        const length = p.count * this.width;
        rows.set(p.rows.length === length ? p.rows : p.rows.subarray(0, length), at);
        at += length;
      }
    }
    this.running = true;
    if (this.observer.onQueueWait !== undefined) {
      const now = performance.now();
      for (const p of batch) this.observer.onQueueWait((now - p.queuedAt) / 1000);
    }
    this.timedRun(rows, total)
      .then(
        (activations) => {
          let at = 0;
          for (const p of batch) {
            p.resolve(activations.subarray(at * this.outputs, (at + p.count) * this.outputs));
            at += p.count;
          }
        },
        (error: unknown) => batch.forEach((p) => p.reject(error)),
      )
      .finally(() => {
        this.running = false;
        if (this.queue.length > 0) this.schedule();
      });
  }

  private async timedRun(rows: Float32Array, count: number): Promise<Float32Array> {
    const started = performance.now();
    const result = await this.runner.run(rows, count);
    this.observer.onRun?.(count, (performance.now() - started) / 1000);
    return result;
  }
}
