import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Net } from '../scoring/net.js';
import { toColumns } from './columns.js';
import { InferenceUnavailableError, type WorkerStop } from './inference-unavailable.js';
import type { ModelRunner } from './model-runner.js';
import { RunnerClosedError, sessionOptions, type RunnerOptions } from './onnx-runner.js';

// The worker is plain CommonJS evaluated from this string, so it runs the same from TypeScript sources (tests) and
// from the build; onnxruntime-node is required by the absolute path this module resolves.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
ort.env.logLevel = 'error';
parentPort.postMessage({ loading: true });
ort.InferenceSession.create(workerData.model, workerData.sessionOptions).then((session) => {
  parentPort.on('message', ({ id, columns, count }) => {
    const feeds = {};
    workerData.inputNames.forEach((name, i) => { feeds[name] = new ort.Tensor('float32', columns[i], [count]); });
    session.run(feeds).then(
      (result) => {
        const data = result[workerData.outputName].data;
        parentPort.postMessage({ id, data }, [data.buffer]);
      },
      (error) => parentPort.postMessage({ id, error: String(error && error.message || error) }),
    );
  });
  parentPort.postMessage({ ready: true });
}, (error) => parentPort.postMessage({ failed: String(error && error.message || error) }));
`;

/**
 * Sessions being created in a worker. ONNX Runtime's native load cannot be interrupted, and ending the process while
 * it runs aborts it (SIGABRT and a core file: the binding throws into a worker being terminated).
 */
const loading = new Set<Promise<unknown>>();

/** Resolves once no worker is creating its session, so that the process can exit cleanly. */
export async function workerLoadsSettled(): Promise<void> {
  await Promise.allSettled([...loading]);
}

/** Workers taken for stuck that are still in a run: nothing in the process can end them (see `workerStuck`). */
const stuck = new Set<Worker>();

/** Workers with a run posted and not yet answered (see `workerBusy`). */
const busy = new Set<Worker>();

/**
 * Whether a worker is in a run (or has runs waiting). An exit now would wait for the run to end, as for a stuck one
 * (`workerStuck`), though the run may only be long: after a shutdown that timed out, what the exit must not do.
 */
export function workerBusy(): boolean {
  return busy.size > 0;
}

/**
 * Whether a worker taken for stuck (a run beyond the inference timeout) is still in that run. Then the process cannot
 * exit: process.exit() waits for every worker thread to end, for ever for one stuck in native code, and a thread ended
 * inside ONNX Runtime's run aborts the process when the run returns (the binding throws into it).
 */
export function workerStuck(): boolean {
  return stuck.size > 0;
}

export interface WorkerRunnerOptions extends RunnerOptions {
  /**
   * Called once when the worker ends without close() having been asked for (an uncaught error, a crash of the thread),
   * or is taken for stuck (`runTimeoutMs`). From then on every run, waiting or new, is refused with
   * InferenceUnavailableError; what the process does about it (health, logs, shutdown) is the caller's to decide.
   */
  onStop?: (stop: WorkerStop) => void;
  /** Called when the worker, onnxruntime loaded, begins to create its session (the native load a signal must wait for). */
  onLoading?: () => void;
  /**
   * Milliseconds a run may go unanswered, from when the worker could begin it, before the worker counts as stuck
   * (checked at most once a second): it is then treated as stopped (every run refused, `onStop` told once, with the
   * error), but left to its run (`workerStuck`). 0 or absent: never.
   */
  runTimeoutMs?: number;
}

/** How often a stuck run is looked for, at most: a run that hangs is found within this of its timeout. */
const WATCHDOG_MS = 1000;

interface Reply {
  id?: number;
  data?: Float32Array;
  error?: string;
  ready?: boolean;
  loading?: boolean;
  failed?: string;
}

/**
 * The model's session in a worker thread, so inference runs beside the event loop instead of on it. Rows go over as
 * transferred column buffers and activations come back the same way; `--inference-thread worker` selects it. A worker
 * that ends without close() (a crash) is not restarted here: the runner refuses every run from then on and tells `onStop`.
 */
export class WorkerRunner implements ModelRunner {
  /** Runs posted and not yet answered, in the order they were posted (a Map keeps it): the first is the oldest. */
  private readonly waiting = new Map<number, { resolve: (data: Float32Array) => void; reject: (error: Error) => void; postedAt: number }>();
  private nextId = 0;
  private closed = false;
  private drained: (() => void) | undefined;
  /** Set once the worker has failed, ended on its own or been taken for stuck: every run is refused with it. */
  private unavailable: InferenceUnavailableError | undefined;
  /** What the worker threw before it ended, or why it was taken for stuck, for the report. */
  private thrown: Error | undefined;
  /** Set once onStop has been told: a stuck worker is reported when found, and its exit, if it comes, is not news. */
  private reported = false;
  /** Runs posted that the worker has not answered (those already refused here included): while any is, it is busy. */
  private unanswered = 0;
  /**
   * performance.now() when the worker last answered a run (or opened). It runs them one at a time, in the order posted:
   * the oldest run waiting began then or when posted, whichever came later.
   */
  private lastAnswerAt = performance.now();
  private readonly watchdog: NodeJS.Timeout | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly net: Net,
    private readonly onStop: ((stop: WorkerStop) => void) | undefined,
    runTimeoutMs: number,
  ) {
    if (runTimeoutMs > 0) {
      this.watchdog = setInterval(() => this.checkStuck(runTimeoutMs), Math.min(WATCHDOG_MS, runTimeoutMs));
      this.watchdog.unref();
    }
    worker.on('message', (reply: Reply) => {
      if (reply.id === undefined) return;
      this.answered();
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (reply.data !== undefined) waiter?.resolve(reply.data);
      else waiter?.reject(new Error(`inference failed in the worker: ${reply.error ?? 'unknown error'}`));
      if (this.waiting.size === 0) this.drained?.();
    });
    worker.on('error', (error) => this.onError(error));
    worker.on('exit', (exitCode) => this.onExit(exitCode));
  }

  static async open(model: Uint8Array, net: Net, outputName: string, options: WorkerRunnerOptions = {}): Promise<WorkerRunner> {
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { model, ortPath, outputName, inputNames: net.inputs.map((i) => i.name), sessionOptions: sessionOptions(options) },
    });
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (reply: Reply) => {
        if (reply.loading === true) {
          options.onLoading?.();
          return;
        }
        if (reply.ready === true) resolve();
        else if (reply.failed !== undefined) reject(new Error(reply.failed));
        else return;
        worker.off('message', onMessage);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      // A thread that ends without a word (killed by its resource limits, process.exit in a native add-on) would leave
      // startup waiting for ever. After a 'ready' or an 'error' this rejects a settled promise: nothing.
      worker.once('exit', (exitCode) => reject(new Error(`the inference worker ended (exit code ${exitCode}) before its session opened`)));
    });
    loading.add(ready);
    const settled = () => loading.delete(ready);
    ready.then(settled, settled);
    await ready.catch(async (error: unknown) => {
      // A worker whose session failed to open would otherwise keep the process alive.
      await worker.terminate();
      throw error;
    });
    return new WorkerRunner(worker, net, options.onStop, options.runTimeoutMs ?? 0);
  }

  run(rows: Float32Array, count: number): Promise<Float32Array> {
    // A message posted to a worker that has ended is never answered: refused here, at once.
    if (this.unavailable !== undefined) return Promise.reject(this.unavailable);
    if (this.closed) return Promise.reject(new RunnerClosedError());
    const columns = toColumns(rows, count, this.net.inputs.length);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, postedAt: performance.now() });
      if (this.unanswered++ === 0) busy.add(this.worker);
      // The columns are views of one buffer (transferred once; a transfer list may not name a buffer twice).
      this.worker.postMessage({ id, columns, count }, columns.length > 0 ? [columns[0]!.buffer as ArrayBuffer] : []);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The watchdog stays on meanwhile: a run stuck now would otherwise hold the close until the shutdown timeout.
    if (this.waiting.size > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
      });
    }
    clearInterval(this.watchdog);
    // Still in the run it was taken for stuck in: ending it there would abort the process once the run returns, and
    // could not end a thread stuck in native code. It is ended if it comes back (answered); else the process's exit
    // deals with it (`workerStuck`).
    if (stuck.has(this.worker)) return;
    await this.worker.terminate();
  }

  private onError(error: Error): void {
    // During a close, as ever: the runs waiting get the error.
    if (this.closed && this.unavailable === undefined) return this.failAll(error);
    // The thread is ending ('exit' follows, and reports): runs are refused from now on rather than sent to it.
    this.thrown ??= error;
    this.unavailable ??= new InferenceUnavailableError();
    this.failAll(this.unavailable);
  }

  private onExit(exitCode: number): void {
    clearInterval(this.watchdog);
    stuck.delete(this.worker);
    busy.delete(this.worker);
    if (this.closed && this.unavailable === undefined) return this.failAll(new RunnerClosedError());
    this.unavailable ??= new InferenceUnavailableError();
    this.failAll(this.unavailable);
    this.report(this.thrown === undefined ? { exitCode } : { exitCode, error: this.thrown });
  }

  /**
   * A run unanswered beyond the timeout: ONNX Runtime stuck in native code (a hang, a deadlock), where the event loop
   * and the probes carry on as if nothing were wrong while every scoring request waits for ever. Its time counts from
   * when the worker could begin it: runs queued behind others (concurrent large batches) are work, not a hang. The
   * worker is taken for stopped and reported now, but not terminated (see `workerStuck`).
   */
  private checkStuck(timeoutMs: number): void {
    if (this.overdueMs(timeoutMs) === undefined) return;
    // Judged once the loop has read the worker's messages: after a block of the event loop longer than the timeout (a
    // large body parsed), this timer runs before the answer that came meanwhile is read, and that is no hang.
    setImmediate(() => {
      const waitedMs = this.overdueMs(timeoutMs);
      if (waitedMs !== undefined) this.takeForStuck(waitedMs, timeoutMs);
    });
  }

  /** How long the oldest run waiting has gone unanswered, when that is beyond the timeout. */
  private overdueMs(timeoutMs: number): number | undefined {
    const oldest = this.waiting.values().next();
    if (oldest.done === true || this.unavailable !== undefined) return undefined;
    const waitedMs = performance.now() - Math.max(oldest.value.postedAt, this.lastAnswerAt);
    return waitedMs < timeoutMs ? undefined : waitedMs;
  }

  private takeForStuck(waitedMs: number, timeoutMs: number): void {
    clearInterval(this.watchdog);
    this.thrown = new Error(`an ONNX run in the inference worker went unanswered for ${Math.round(waitedMs)} ms, beyond the inference timeout (${timeoutMs} ms): the worker is taken for stuck`);
    this.unavailable = new InferenceUnavailableError();
    stuck.add(this.worker);
    this.failAll(this.unavailable);
    this.report({ error: this.thrown });
  }

  /**
   * A reply from the worker: the time of the next run starts now, and a worker taken for stuck may have come back. Back
   * after the close, which left it to its run, it is ended now, idle, as the close would have ended it.
   */
  private answered(): void {
    this.lastAnswerAt = performance.now();
    this.unanswered--;
    if (this.unanswered !== 0) return;
    busy.delete(this.worker);
    if (stuck.delete(this.worker) && this.closed) void this.worker.terminate();
  }

  private report(stop: WorkerStop): void {
    if (this.reported) return;
    this.reported = true;
    this.onStop?.(stop);
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
    this.drained?.();
  }
}
