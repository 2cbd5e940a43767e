import type { Net } from '../scoring/net.js';
import type { ModelRunner } from './model-runner.js';

export type InferenceThreadSetting = 'auto' | 'main' | 'worker';

/**
 * Under `auto`, a model whose single-row run takes at least this long runs in a worker thread. Measured on 2 cores
 * (README): scale_200 (~0.4 ms a run) served 12–15% more requests with its runs in a worker, at 16 and at 128
 * connections; the default bundle (~15 µs a run) served 15% fewer, the hand-over costing more than the run.
 */
export const WORKER_FROM_MS = 0.1;

/** How long `auto` times single-row runs at startup: see singleRowRunMs. */
export interface RunTiming {
  /** Timed runs at the least. */
  minRuns: number;
  /** Timing goes on, past minRuns, until this long has passed (milliseconds)… */
  minMs: number;
  /** …or this many runs have been timed, whichever comes first. */
  maxRuns: number;
  /**
   * Timing ends early, past minRuns, at the first run this fast: the fastest can only fall further, and a model this
   * far below WORKER_FROM_MS runs on the main thread whatever the rest would read. Keeps a small model's startup short
   * (every test app starts one).
   */
  enoughBelowMs: number;
}

/**
 * 200 ms: under `--single-threaded-gc` (npm start's and the image's flag) V8 finishes the collection of the startup
 * heap on the main thread, in steps between the first runs: on a 2-core VM the first 60–100 timed runs of the default
 * bundle took 0.08–0.9 ms where a run takes 0.02, their fastest read 0.08–0.2 ms, and 4 starts of 6 sent the default
 * bundle to a worker (where it served 9–16% less when measured). The runs settled at 0.02 ms from 20–45 ms into the
 * timing.
 */
export const DEFAULT_RUN_TIMING: RunTiming = { minRuns: 15, minMs: 200, maxRuns: 2_000, enoughBelowMs: WORKER_FROM_MS / 2 };

/**
 * A single-row run of the default row, in milliseconds: the fastest of the timed runs after an untimed warm-up, over a
 * window long enough for the startup's own work to have passed (DEFAULT_RUN_TIMING). Anything else the process does
 * (compiling the wrapper code, collecting the startup heap, other startup work between a run's turns) only adds to a
 * run's time, so the fastest is the run's own cost.
 */
export async function singleRowRunMs(runner: ModelRunner, net: Net, timing: RunTiming = DEFAULT_RUN_TIMING, warmUp: { runs: number; ms: number } = { runs: 100, ms: 50 }): Promise<number> {
  const warmUntil = performance.now() + warmUp.ms;
  for (let i = 0; i < warmUp.runs && performance.now() < warmUntil; i++) await runner.run(net.defaultRow.slice(), 1);
  let fastest = Number.POSITIVE_INFINITY;
  const timedUntil = performance.now() + timing.minMs;
  for (let i = 0; i < timing.maxRuns && (i < timing.minRuns || (performance.now() < timedUntil && fastest >= timing.enoughBelowMs)); i++) {
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
