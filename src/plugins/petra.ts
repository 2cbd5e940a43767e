import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { loadBundle, type Bundle } from '../bundle/load-bundle.js';
import { readFile } from 'node:fs/promises';
import { getHeapStatistics } from 'node:v8';
import { InferenceBatcher } from '../inference/batcher.js';
import { WorkerRunner } from '../inference/worker-runner.js';
import { InferenceUnavailableError, type WorkerStop } from '../inference/inference-unavailable.js';
import { chooseThread, singleRowRunMs, type InferenceThreadSetting } from '../inference/choose-thread.js';
import { TraceScorer } from '../inference/trace-scorer.js';
import { ScoreJson } from '../http/score-json.js';
import type { Net } from '../scoring/net.js';
import { ONNXRUNTIME_VERSION, PETRASCORE_VERSION } from '../version.js';

export interface PetraContext {
  /** What was loaded, without its session: worker mode closes that one, and every run goes through `batcher`. */
  bundle: Omit<Bundle, 'runner'>;
  net: Net;
  scorer: TraceScorer;
  /** Score responses written from output rows (/anomaly, /anomaly/batch, case evaluations). */
  json: ScoreJson;
  /** The one queue to the ONNX session: everything that runs the model shares its runs. */
  batcher: InferenceBatcher;
}

declare module 'fastify' {
  interface FastifyInstance {
    petra: PetraContext;
  }
}

export interface PetraPluginOptions {
  modelPath: string;
  maxBatchRows: number;
  maxBatchWaitMs: number;
  batchHoldFrom: number;
  inferenceThread: InferenceThreadSetting;
  /** Milliseconds an ONNX run in the worker may go unanswered before the worker counts as stuck; 0 never. */
  inferenceTimeoutMs: number;
}

/**
 * The inference worker ended on its own, or was taken for stuck: nothing can be scored in this process any more (the
 * runner refuses every run, answered 503), so the service says so once in the log and fails its health checks; `serve`
 * shuts down and exits 1 (or aborts, the worker still stuck).
 */
function workerStopped(app: FastifyInstance, stop: WorkerStop): void {
  app.log.fatal(
    { ...(stop.exitCode !== undefined ? { exit_code: stop.exitCode } : {}), ...(stop.error !== undefined ? { err: stop.error } : {}) },
    'the inference worker stopped: this instance can no longer score and must be restarted',
  );
  app.markFailed(new InferenceUnavailableError());
}

/** Loads the bundle at startup (a bad bundle fails `ready()` with a BundleError) and releases the session on close. */
export const petraPlugin = fp<PetraPluginOptions>(
  async (app, options) => {
    // A large net takes seconds: the line says what is being waited for, and with which versions.
    // The heap limit with the versions: what Node made of --max-old-space-size or of the container's memory limit.
    const heapLimitMb = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
    app.log.info({ bundle: options.modelPath, petrascore: PETRASCORE_VERSION, onnxruntime: ONNXRUNTIME_VERSION, node: process.version, heap_limit_mb: heapLimitMb }, 'loading bundle');
    const bundle = await loadBundle(options.modelPath);
    const { net, runner } = bundle;
    app.log.info(
      {
        bundle: bundle.modelPath,
        scenario: net.scenarioName,
        inputs: net.inputs.map((i) => i.name),
        outputs: net.outputs.length,
        output: bundle.outputName,
        opset: bundle.sidecar.opset,
        model_sha256: bundle.modelSha256,
      },
      'bundle loaded and warmed up',
    );
    for (const warning of bundle.warnings) app.log.warn({ bundle: bundle.sidecarPath }, warning);
    const { metrics } = app;
    // The bundle's own session did the checks, the warm-up and the timing; in worker mode the worker's replaces it.
    const singleRowMs = options.inferenceThread === 'auto' ? await singleRowRunMs(runner, net) : undefined;
    const thread = chooseThread(options.inferenceThread, singleRowMs ?? 0);
    app.log.info(
      { inference_thread: thread, setting: options.inferenceThread, ...(singleRowMs !== undefined ? { single_row_run_ms: Math.round(singleRowMs * 1000) / 1000 } : {}) },
      'inference thread chosen',
    );
    metrics.modelInfo.set(
      {
        scenario: net.scenarioName,
        opset: bundle.sidecar.opset === undefined ? '' : String(bundle.sidecar.opset),
        petra_version: bundle.sidecar.petra_version ?? '',
        // 12 hex digits (48 bits) tell bundles apart and fit a dashboard; the 'bundle loaded' line has the whole hash.
        model_sha256: bundle.modelSha256.slice(0, 12),
        inference_thread: thread,
      },
      1,
    );
    metrics.scoredTransitions.set(net.outputs.length);
    metrics.maxBatchRows.set(options.maxBatchRows);
    const workerOptions = {
      onStop: (stop: WorkerStop) => workerStopped(app, stop),
      onLoading: () => app.log.debug('inference worker: creating its session'),
      runTimeoutMs: options.inferenceTimeoutMs,
    };
    const worker = thread === 'worker' ? await WorkerRunner.open(await readFile(bundle.modelPath), net, bundle.outputName, workerOptions) : undefined;
    // The worker's session does every run from here on; the bundle's own one would only hold a second copy of the model.
    if (worker !== undefined) await runner.close();
    const [runs, rowsPerRun, runSeconds, queueWait] = [metrics.inferenceRuns.series(), metrics.inferenceRows.series(), metrics.inferenceSeconds.series(), metrics.inferenceQueueWait.series()];
    const batcher = new InferenceBatcher(worker ?? runner, net.inputs.length, net.outputs.length, { maxBatch: options.maxBatchRows, maxWaitMs: options.maxBatchWaitMs, holdFromCallers: options.batchHoldFrom }, {
      onRun: (rows, seconds) => {
        runs.inc();
        rowsPerRun.observe(rows);
        runSeconds.observe(seconds);
      },
      onQueueWait: (seconds) => queueWait.observe(seconds),
    });
    const { runner: _session, ...loaded } = bundle;
    app.decorate('petra', { bundle: loaded, net, scorer: new TraceScorer(net, batcher), json: new ScoreJson(net), batcher });
    app.addHook('onClose', async () => {
      // Fastify may run this before the HTTP server has finished its last requests; they still need the session.
      await app.whenIdle();
      await worker?.close();
      await runner.close();
    });
  },
  { name: 'petra', dependencies: ['lifecycle', 'metrics'] },
);
