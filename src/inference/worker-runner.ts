import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Net } from '../scoring/net.js';
import { toColumns } from './columns.js';
import type { ModelRunner } from './model-runner.js';
import { RunnerClosedError, sessionOptions, type RunnerOptions } from './onnx-runner.js';

// The worker is plain CommonJS evaluated from this string, so it runs the same from TypeScript sources (tests) and
// from the build; onnxruntime-node is required by the absolute path this module resolves.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
ort.env.logLevel = 'error';
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

interface Reply {
  id?: number;
  data?: Float32Array;
  error?: string;
  ready?: boolean;
  failed?: string;
}

/**
 * The model's session in a worker thread, so inference runs beside the event loop instead of on it. Rows go over as
 * transferred column buffers and activations come back the same way; `--inference-thread worker` selects it.
 */
export class WorkerRunner implements ModelRunner {
  private readonly waiting = new Map<number, { resolve: (data: Float32Array) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private closed = false;
  private drained: (() => void) | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly net: Net,
  ) {
    worker.on('message', (reply: Reply) => {
      if (reply.id === undefined) return;
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (reply.data !== undefined) waiter?.resolve(reply.data);
      else waiter?.reject(new Error(`inference failed in the worker: ${reply.error ?? 'unknown error'}`));
      if (this.waiting.size === 0) this.drained?.();
    });
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', () => this.failAll(new RunnerClosedError()));
  }

  static async open(model: Uint8Array, net: Net, outputName: string, options: RunnerOptions = {}): Promise<WorkerRunner> {
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { model, ortPath, outputName, inputNames: net.inputs.map((i) => i.name), sessionOptions: sessionOptions(options) },
    });
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (reply: Reply) => {
        if (reply.ready === true) resolve();
        else if (reply.failed !== undefined) reject(new Error(reply.failed));
        else return;
        worker.off('message', onMessage);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    loading.add(ready);
    const settled = () => loading.delete(ready);
    ready.then(settled, settled);
    await ready.catch(async (error: unknown) => {
      // A worker whose session failed to open would otherwise keep the process alive.
      await worker.terminate();
      throw error;
    });
    return new WorkerRunner(worker, net);
  }

  run(rows: Float32Array, count: number): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new RunnerClosedError());
    const columns = toColumns(rows, count, this.net.inputs.length);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // The columns are views of one buffer (transferred once; a transfer list may not name a buffer twice).
      this.worker.postMessage({ id, columns, count }, columns.length > 0 ? [columns[0]!.buffer as ArrayBuffer] : []);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.waiting.size > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
      });
    }
    await this.worker.terminate();
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
    this.drained?.();
  }
}
