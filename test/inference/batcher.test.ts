import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle, type Bundle } from '../../src/bundle/load-bundle.js';
import { InferenceBatcher, type BatcherOptions } from '../../src/inference/batcher.js';
import { DEFAULT_MODEL } from '../helpers/fixtures.js';

/**
 * The batcher on the default bundle's real ONNX session. Whether a run is held is read from the order of microtasks,
 * not from clocks: without a hold a run starts in the microtask after its first row, so a row queued one `await` later
 * runs on its own; with a hold it joins the held run.
 */
let bundle: Bundle;
beforeAll(async () => {
  bundle = await loadBundle(DEFAULT_MODEL);
});
afterAll(async () => {
  await bundle.runner.close();
});

/**
 * A batcher over the bundle's session, the row counts of its runs in the order they started, and the queue waits. The
 * saturation window is a minute unless a test sets it, so that a slow machine's pause cannot end it mid-test.
 */
function batcher(options: BatcherOptions): { batcher: InferenceBatcher; runs: number[]; waits: number[] } {
  const runs: number[] = [];
  const waits: number[] = [];
  const { runner, net } = bundle;
  const counting = { run: (rows: Float32Array, count: number) => (runs.push(count), runner.run(rows, count)), close: () => runner.close() };
  return { batcher: new InferenceBatcher(counting, net.inputs.length, net.outputs.length, { saturationWindowMs: 60_000, ...options }, { onQueueWait: (s) => waits.push(s) }), runs, waits };
}

/** `count` copies of the bundle's default row, the k-th with its first input set to k / count (distinct rows). */
function rows(count: number): Float32Array {
  const { net } = bundle;
  const out = new Float32Array(count * net.inputs.length);
  for (let k = 0; k < count; k++) {
    out.set(net.defaultRow, k * net.inputs.length);
    out[k * net.inputs.length] = k / count;
  }
  return out;
}

/**
 * One run shared by `callers` callers of one row each (or one caller's `rows` rows), then waits until the batcher is
 * idle: a caller resumes before the run's own bookkeeping has marked the model free, so a row queued at once would wait
 * for that, not for a hold.
 */
async function primed(b: InferenceBatcher, callers: number, { rows: count }: { rows?: number } = {}): Promise<void> {
  if (count !== undefined) await b.infer(rows(count), count);
  else await Promise.all(Array.from({ length: callers }, () => b.infer(rows(1), 1)));
  await new Promise((resolve) => setImmediate(resolve));
}

/** Queues one row, then a second one an `await` later; resolves when both are answered. */
async function twoRowsOneAwaitApart(b: InferenceBatcher): Promise<void> {
  const first = b.infer(rows(1), 1);
  await Promise.resolve();
  await Promise.all([first, b.infer(rows(1), 1)]);
}

describe('the inference batcher', () => {
  it('gives each caller exactly its own rows of the shared run', async () => {
    const { batcher: b, runs } = batcher({ maxBatch: 1024 });
    const all = rows(6);
    const width = bundle.net.inputs.length;
    const together = await Promise.all([0, 2, 3].map((at, i) => b.infer(all.slice(at * width, (at + [2, 1, 3][i]!) * width), [2, 1, 3][i]!)));
    expect(runs).toEqual([6]);
    const alone = await bundle.runner.run(all.slice(), 6);
    expect(Float32Array.from(together.flatMap((part) => [...part]))).toEqual(alone);
  });

  it('starts a lone row at once, however large the run before it, when holding is off', async () => {
    const { batcher: b, runs } = batcher({ maxBatch: 1024 });
    await primed(b, 40);
    await twoRowsOneAwaitApart(b);
    expect(runs).toEqual([40, 1, 1]);
  });

  it('does not hold after a run shared by fewer callers than --batch-hold-from (a lone request never waits)', async () => {
    const { batcher: b, runs } = batcher({ maxBatch: 1024, holdFromCallers: 16 });
    await primed(b, 15);
    await twoRowsOneAwaitApart(b);
    expect(runs).toEqual([15, 1, 1]);
  });

  it("does not hold after one caller's large run: a diagnostics search's next call must not wait", async () => {
    const { batcher: b, runs } = batcher({ maxBatch: 1024, holdFromCallers: 16 });
    await primed(b, 1, { rows: 300 });
    await twoRowsOneAwaitApart(b);
    expect(runs).toEqual([300, 1, 1]);
  });

  it('holds the run after a saturated one for company, and the rows that come meanwhile share it', async () => {
    const { batcher: b, runs } = batcher({ maxBatch: 1024, holdFromCallers: 16 });
    await primed(b, 16);
    await twoRowsOneAwaitApart(b);
    // The shared run had 2 callers, below the threshold: the next one starts at once again.
    await new Promise((resolve) => setImmediate(resolve));
    await twoRowsOneAwaitApart(b);
    expect(runs).toEqual([16, 2, 1, 1]);
  });

  it('does not hold a lone request that comes after the saturation window (the burst is over)', async () => {
    const { batcher: b, runs } = batcher({ maxBatch: 1024, holdFromCallers: 16, saturationWindowMs: 1 });
    await primed(b, 16);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await twoRowsOneAwaitApart(b);
    expect(runs).toEqual([16, 1, 1]);
  });

  it('counts a caller with a full batch of its own once in the queue waits, at 0: it runs beside the queue', async () => {
    const { batcher: b, runs, waits } = batcher({ maxBatch: 4 });
    await b.infer(rows(9), 9);
    expect(runs).toEqual([4, 4, 1]);
    expect(waits).toEqual([0]);
  });

  it('does not hold back a full batch: the run starts as soon as maxBatch rows wait', async () => {
    const { batcher: b, runs } = batcher({ maxBatch: 4, holdFromCallers: 2 });
    await primed(b, 2);
    const held = b.infer(rows(1), 1);
    expect(runs).toEqual([2]);
    const filling = b.infer(rows(3), 3);
    // Started synchronously by the row that filled the batch, before any microtask or timer.
    expect(runs).toEqual([2, 4]);
    await Promise.all([held, filling]);
  });

  it('holds every first row for --max-batch-wait when it is set, and cuts the wait short for a full batch', async () => {
    const { batcher: b, runs } = batcher({ maxBatch: 3, maxWaitMs: 1000 });
    const first = b.infer(rows(1), 1);
    await Promise.resolve();
    const second = b.infer(rows(1), 1);
    expect(runs).toEqual([]);
    const third = b.infer(rows(1), 1);
    expect(runs).toEqual([3]);
    await Promise.all([first, second, third]);
  });

  it('does not hold a full batch that queued during a run, with --max-batch-wait set either', async () => {
    const { batcher: b, runs } = batcher({ maxBatch: 2, maxWaitMs: 1000 });
    const running = [b.infer(rows(1), 1), b.infer(rows(1), 1)];
    expect(runs).toEqual([2]);
    const queued = [b.infer(rows(1), 1), b.infer(rows(1), 1)];
    await Promise.all(running);
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toEqual([2, 2]);
    await Promise.all(queued);
  });
});
