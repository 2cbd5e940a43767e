import ort from 'onnxruntime-node';
import type { Net } from '../scoring/net.js';
import { toColumns } from './columns.js';
import type { ModelRunner } from './model-runner.js';

export interface RunnerOptions {
  /** Threads for one operator; the graphs are small element-wise chains, so one thread avoids pool hand-offs. */
  intraOpThreads?: number;
  /**
   * Measured on scale_2000: 'basic' loads in 6 s and runs as fast as 'all', which takes 12 s to load; on the small nets
   * the levels run alike.
   */
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

/** The session is closing or closed (the service is shutting down); callers answer 503. */
export class RunnerClosedError extends Error {
  constructor() {
    super('the model is shutting down and takes no more work');
    this.name = 'RunnerClosedError';
  }
}

/**
 * onnxruntime's own warnings go to stderr as coloured text, outside the JSON log: a telemetry id it cannot persist
 * where HOME is not writable (a service account), a graph's declared output shape that the sidecar check reports
 * anyway in its own words. Errors still show. Read once, when the first session is made in the process.
 */
ort.env.logLevel = 'error';

/**
 * onnxruntime 1.30 on Linux keeps a telemetry device id and database under ~/.cache/Microsoft (or, where HOME is not
 * writable, a `:memory:.ses` file in the working directory) and tries to upload telemetry over HTTPS. A scoring
 * service writes nothing of the sort and calls nowhere. Read when the first session is made in the process, so set
 * here, before any; an operator who sets the variable keeps their value.
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';

/** The session options every runner uses, main thread or worker. */
export function sessionOptions(options: RunnerOptions): ort.InferenceSession.SessionOptions {
  return {
    logSeverityLevel: 3,
    executionProviders: ['cpu'],
    graphOptimizationLevel: options.graphOptimization ?? 'basic',
    executionMode: 'sequential',
    intraOpNumThreads: options.intraOpThreads ?? 1,
    interOpNumThreads: 1,
  };
}

/** One ONNX session for one net: feeds column tensors `[batch]`, returns the `[batch, outputs]` activations row-major. */
export class OnnxRunner implements ModelRunner {
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly net: Net,
    readonly outputName: string,
  ) {}

  static async open(model: Uint8Array, net: Net, outputName: string, options: RunnerOptions = {}): Promise<OnnxRunner> {
    const session = await ort.InferenceSession.create(model, sessionOptions(options));
    return new OnnxRunner(session, net, outputName);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Graph metadata, for checking the sidecar against the model. */
  describe(): { inputs: { name: string; type?: string; shape?: readonly (number | string)[] }[]; outputs: { name: string; type?: string; shape?: readonly (number | string)[] }[] } {
    const meta = (list: readonly ort.InferenceSession.ValueMetadata[]) =>
      list.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name }));
    return { inputs: meta(this.session.inputMetadata), outputs: meta(this.session.outputMetadata) };
  }

  /** `rows` holds `count` input rows back to back, in `net.inputs` order. */
  async run(rows: Float32Array, count: number): Promise<Float32Array> {
    const columns = toColumns(rows, count, this.net.inputs.length);
    const feeds: Record<string, ort.Tensor> = {};
    this.net.inputs.forEach((input, i) => {
      feeds[input.name] = new ort.Tensor('float32', columns[i]!, [count]);
    });
    if (this.closed) throw new RunnerClosedError();
    // onnxruntime-node runs the session on a later turn of the event loop; close() must wait for such runs.
    const running = this.session.run(feeds);
    this.inFlight.add(running);
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await running;
    } finally {
      this.inFlight.delete(running);
    }
    const output = result[this.outputName];
    if (output === undefined || !(output.data instanceof Float32Array)) throw new Error(`model produced no float32 output '${this.outputName}'`);
    const expected = count * this.net.outputs.length;
    if (output.data.length !== expected) {
      throw new Error(`output '${this.outputName}' has ${output.data.length} values, expected ${count} × ${this.net.outputs.length}`);
    }
    return output.data;
  }

  /** Refuses new runs, lets the started ones finish, then frees the session. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    await this.session.release();
  }
}
