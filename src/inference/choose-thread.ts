import type { Net } from '../scoring/net.js';
import type { ModelRunner } from './model-runner.js';

export type InferenceThreadSetting = 'auto' | 'main' | 'worker';

/**
 * Under `auto`, a model whose single-row run takes at least this long runs in a worker thread. Measured on 2 cores
 * (README): scale_200 (~0.4 ms a run) served 12–15% more requests with its runs in a worker, at 16 and at 128
 * connections; the default bundle (~15 µs a run) served 15% fewer, the hand-over costing more than the run.
 */
export const WORKER_FROM_MS = 0.1;

/**
 * A single-row run of the default row, in milliseconds: the fastest of `runs` timed runs after an untimed warm-up.
 * Both because startup inflates the first runs' wall time: on Node 24 the first fifteen runs of the default bundle
 * took 0.13–0.35 ms (the wrapper code not yet compiled, startup work between a run's turns) where a warm run takes
 * 0.02, and the median of those sent the default bundle to a worker, which cost it a third of its throughput at one
 * connection. Anything else the process does only adds to a run's time, so the fastest is the run's own cost.
 */
export async function singleRowRunMs(runner: ModelRunner, net: Net, runs = 15, warmUp: { runs: number; ms: number } = { runs: 100, ms: 50 }): Promise<number> {
  const warmUntil = performance.now() + warmUp.ms;
  for (let i = 0; i < warmUp.runs && performance.now() < warmUntil; i++) await runner.run(net.defaultRow.slice(), 1);
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await runner.run(net.defaultRow.slice(), 1);
    fastest = Math.min(fastest, performance.now() - started);
  }
  return fastest;
}

export function chooseThread(setting: InferenceThreadSetting, singleRowMs: number): 'main' | 'worker' {
  if (setting !== 'auto') return setting;
  return singleRowMs >= WORKER_FROM_MS ? 'worker' : 'main';
}
