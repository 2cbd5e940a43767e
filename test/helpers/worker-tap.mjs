// Keeps a hand on every worker thread the process starts, so that a test can end one from outside as a crash would,
// without a hook in the service's code. Plain JavaScript: `petrascore serve` preloads it too
// (NODE_OPTIONS=--import=…/worker-tap.mjs), where SIGUSR2 terminates the workers and WORKER_TAP_HANG_MS hangs their runs.
import { syncBuiltinESMExports } from 'node:module';
import threads from 'node:worker_threads';

const started = new Set();
let stalled = false;
/** Milliseconds each run blocks its worker thread in native code before it runs (0: none); `petrascore serve` reads it from WORKER_TAP_HANG_MS. */
let hangMs = Number(process.env.WORKER_TAP_HANG_MS ?? '') || 0;

/**
 * Runs before the inference worker's own 'message' listener: a run marked `tapHangMs` blocks the thread in a system
 * call (a child process waited for synchronously) just before it runs. terminate() cannot interrupt that, nor can the
 * process exit while it lasts: the thread is stuck as one stuck in ONNX Runtime's native code is, but for a bounded
 * time. From setImmediate, as onnxruntime-node defers each run itself: runs posted together then block in turn, each
 * answered before the next one blocks, as runs of their own length would be.
 */
const HANG_FIRST = `require('node:worker_threads').parentPort.on('message', (run) => {
  if (run && run.tapHangMs > 0) setImmediate(() => require('node:child_process').spawnSync('sleep', [String(run.tapHangMs / 1000)]));
});
`;

/** From now on (until unstallWorkers) no message reaches a worker: its runs go unanswered, as if stuck. */
export function stallWorkers() {
  stalled = true;
}

export function unstallWorkers() {
  stalled = false;
}

/** From now on each run posted blocks its worker thread for `ms` in native code, beyond terminate()'s reach (0: no more). */
export function hangWorkers(ms) {
  hangMs = ms;
}

// A preload runs in every thread; only the main thread starts the inference worker and receives signals.
if (threads.isMainThread) {
  const Original = threads.Worker;
  threads.Worker = class TappedWorker extends Original {
    constructor(source, options, ...rest) {
      super(options?.eval === true ? HANG_FIRST + source : source, options, ...rest);
      started.add(this);
      this.once('exit', () => started.delete(this));
    }

    postMessage(message, ...rest) {
      // Swallowed while stalled: the worker never sees the run, so it is never answered, as a run stuck in native code.
      if (stalled) return;
      super.postMessage(hangMs > 0 && typeof message?.id === 'number' ? { ...message, tapHangMs: hangMs } : message, ...rest);
    }
  };
  // `import { Worker } from 'node:worker_threads'` reads the builtin's ES module bindings: updated from the object here.
  syncBuiltinESMExports();
  process.on('SIGUSR2', () => void terminateWorkers());
}

/** How many worker threads are running (started and not yet exited). */
export function runningWorkers() {
  return started.size;
}

/** Terminates every worker thread still running; resolves once they have ended (their 'exit' has been emitted). */
export async function terminateWorkers() {
  const running = [...started];
  await Promise.all(running.map((worker) => worker.terminate()));
  return running.length;
}
