import type { Net } from '../scoring/net.js';
import type { ModelRunner } from './model-runner.js';

export type InferenceThreadSetting = 'auto' | 'main' | 'worker';

/**
 * Under `auto`, a model whose single-row run takes at least this long runs in a worker thread. Measured on 2 cores
 * (README): scale_200 (~0.4 ms a run) served 12–15% more requests with its runs in a worker, at 16 and at 128
 * connections; the default bundle (~15 µs a run) served 15% fewer, the hand-over costing more than the run.
 */
export const WORKER_FROM_MS = 0.1;

/** Median wall time of a few single-row runs of the default row, in milliseconds (after the bundle's warm-up). */
export async function singleRowRunMs(runner: ModelRunner, net: Net, runs = 15): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await runner.run(net.defaultRow.slice(), 1);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function chooseThread(setting: InferenceThreadSetting, singleRowMs: number): 'main' | 'worker' {
  if (setting !== 'auto') return setting;
  return singleRowMs >= WORKER_FROM_MS ? 'worker' : 'main';
}
