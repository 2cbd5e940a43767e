import type { ModelRunner } from './model-runner.js';

export interface BatcherOptions {
  /** Rows per ONNX run at most. */
  maxBatch: number;
  /**
   * Extra time to hold the first row of an idle queue for company, in milliseconds. 0 (the default, chosen by
   * measurement) starts a run at once; rows that arrive while it runs share the next one.
   */
  maxWaitMs?: number;
  /**
   * A run shared by at least this many callers marks the model as saturated, and the run after it, if it starts within
   * SATURATION_WINDOW_MS, holds SATURATED_HOLD_MS for company (unless a full batch is already waiting). Callers, not
   * rows: one caller's large run (a diagnostics search, an /anomaly/batch request) says nothing of the load, and its next
   * call must not wait. 0 or absent: never. Chosen by measurement (README → Performance): with scale_200's runs in a
   * worker thread, holding at 128 connections served 4–23% more (medians of 12 pairs); elsewhere it measured neutral.
   */
  holdFromCallers?: number;
  /** How long a saturated run's mark lasts after it ends, in milliseconds (default SATURATION_WINDOW_MS). */
  saturationWindowMs?: number;
}

/**
 * How long a saturated model holds its next run: the timers' resolution. Under saturation every caller already waits
 * for a run or more, so one more millisecond is small beside the latency, and fewer, larger runs mean fewer hand-overs.
 */
export const SATURATED_HOLD_MS = 1;

/**
 * How long a saturated run's mark lasts after it ends. Under load the next requests arrive within microseconds of a
 * run's end; a request that comes to a model idle for longer is a lone one after the burst, and runs at once.
 */
export const SATURATION_WINDOW_MS = 10;

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
 * the load. Once a run shared by `holdFromCallers` callers shows the model saturated, the next run waits a millisecond
 * for more company: fewer, larger runs, and fewer hand-overs to a worker thread. Each caller gets a view of exactly its
 * own rows; results do not depend on the company (the graphs are row-wise).
 */
export class InferenceBatcher {
  private queue: Pending[] = [];
  /** Rows in the queue. */
  private queuedRows = 0;
  private running = false;
  private scheduled = false;
  /** The pending hold's timer: cut short when a full batch has gathered. */
  private holdTimer: NodeJS.Timeout | undefined;
  private lastRunCallers = 0;
  /** performance.now() when the last run ended. */
  private lastRunEnded = Number.NEGATIVE_INFINITY;

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
      this.queuedRows += count;
      if (this.holdTimer !== undefined && this.queuedRows >= this.options.maxBatch) this.flush();
      else this.schedule();
    });
  }

  /** A microtask at the least, so callers that enqueue in one synchronous stretch share a run. */
  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    const holdFrom = this.options.holdFromCallers ?? 0;
    const saturated = holdFrom > 0 && this.lastRunCallers >= holdFrom && performance.now() - this.lastRunEnded < (this.options.saturationWindowMs ?? SATURATION_WINDOW_MS);
    // A full batch has no company to wait for.
    const hold = this.queuedRows >= this.options.maxBatch ? 0 : Math.max(this.options.maxWaitMs ?? 0, saturated ? SATURATED_HOLD_MS : 0);
    if (hold > 0) this.holdTimer = setTimeout(() => this.flush(), hold);
    else queueMicrotask(() => this.flush());
  }

  /** A caller with a full batch of its own runs at once, beside the queue (its wait is 0). */
  private async runChunks(rows: Float32Array, count: number): Promise<Float32Array> {
    this.observer.onQueueWait?.(0);
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
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    if (this.running || this.queue.length === 0) return;
    const batch: Pending[] = [];
    let total = 0;
    while (this.queue.length > 0 && (batch.length === 0 || total + this.queue[0]!.count <= this.options.maxBatch)) {
      const next = this.queue.shift()!;
      batch.push(next);
      total += next.count;
    }
    this.queuedRows -= total;
    this.lastRunCallers = batch.length;
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
        this.lastRunEnded = performance.now();
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
