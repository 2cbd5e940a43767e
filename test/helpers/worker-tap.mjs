// Keeps a hand on every worker thread the process starts, so that a test can end one from outside as a crash would,
// without a hook in the service's code. Plain JavaScript: `petrascore serve` preloads it too
// (NODE_OPTIONS=--import=…/worker-tap.mjs), where SIGUSR2 terminates the workers.
import { syncBuiltinESMExports } from 'node:module';
import threads from 'node:worker_threads';

const started = new Set();
let stalled = false;

/** From now on (until unstallWorkers) no message reaches a worker: its runs go unanswered, as if stuck. */
export function stallWorkers() {
  stalled = true;
}

export function unstallWorkers() {
  stalled = false;
}

// A preload runs in every thread; only the main thread starts the inference worker and receives signals.
if (threads.isMainThread) {
  const Original = threads.Worker;
  threads.Worker = class TappedWorker extends Original {
    constructor(...args) {
      super(...args);
      started.add(this);
      this.once('exit', () => started.delete(this));
    }

    postMessage(...args) {
      // Swallowed while stalled: the worker never sees the run, so it is never answered, as a run stuck in native code.
      if (stalled) return;
      super.postMessage(...args);
    }
  };
  // `import { Worker } from 'node:worker_threads'` reads the builtin's ES module bindings: updated from the object here.
  syncBuiltinESMExports();
  process.on('SIGUSR2', () => void terminateWorkers());
}

/** Terminates every worker thread still running; resolves once they have ended (their 'exit' has been emitted). */
export async function terminateWorkers() {
  const running = [...started];
  await Promise.all(running.map((worker) => worker.terminate()));
  return running.length;
}
