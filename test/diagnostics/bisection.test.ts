import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { batchedBisection, levelsPerCall, MAX_ITERATIONS, plainBisection, type CounterfactualProblem } from '../../src/diagnostics/bisection.js';
import type { BatchModel } from '../../src/diagnostics/model.js';
import { testApp } from '../helpers/app.js';
import { modelPath } from '../helpers/fixtures.js';

/**
 * The service's ONNX session, one run per call, through its batcher: with `--inference-thread auto` a machine under
 * load can time a small net past the worker threshold, and the bundle's own session is then closed.
 */
const onnxModel = (app: App): BatchModel => ({ width: app.petra.net.inputs.length, outputs: app.petra.net.outputs.length, infer: (rows, count) => app.petra.batcher.infer(rows, count) });

/** A one-input, one-output stand-in whose activation crosses 0.5 wherever sin(x) changes sign: 0.5 + 0.4·sin(x). */
const wave: BatchModel = {
  width: 1,
  outputs: 1,
  infer: async (rows, count) => Float32Array.from({ length: count }, (_, i) => 0.5 + 0.4 * Math.sin(rows[i]!)),
};

function problem(base: number[], slot: number, column: number, range: [number, number], tolerance = 1e-3): CounterfactualProblem {
  return { base: new Float32Array(base), slot, column, range, tolerance };
}

/** The batched search must give PETRA's bisection answer: same found, and (same float32-fed points) the same numbers. */
async function expectSameAsBisection(model: BatchModel, p: CounterfactualProblem, levels: number): Promise<void> {
  const plain = await plainBisection(model, p);
  const batched = await batchedBisection(model, p, { levels });
  const where = `range ${JSON.stringify(p.range)} slot ${p.slot} column ${p.column} tolerance ${p.tolerance} levels ${levels}`;
  expect(batched.found, where).toBe(plain.found);
  expect(batched.originalActivation, where).toBe(plain.originalActivation);
  if (!plain.found) return;
  // Within tolerance, as the issue asks; in fact bit-identical, because the replay evaluates the same points.
  expect(Math.abs(batched.activation! - plain.activation!), where).toBeLessThanOrEqual(p.tolerance);
  expect(batched.input, where).toBe(plain.input);
  expect(batched.activation, where).toBe(plain.activation);
  expect(batched.iterations, where).toBe(plain.iterations);
  expect(plain.calls, where).toBe(3 + plain.iterations);
  expect(batched.calls, where).toBeLessThanOrEqual(Math.ceil((plain.iterations + 1) / levels) + 1);
}

describe('batched counterfactual search equals PETRA’s plain bisection', () => {
  let credit: App;
  let deployment: App;

  beforeAll(async () => {
    credit = await testApp({ bundle: modelPath('credit_approval_coloured') });
    deployment = await testApp({ bundle: modelPath('onnx_deployment') });
  });
  afterAll(async () => {
    await credit.close();
    await deployment.close();
  });

  it('on credit_approval_coloured, value channel (guard trained near 1356 from the declared 1000)', async () => {
    const model = onnxModel(credit);
    for (const amount of [0, 800, 1356, 4000]) {
      for (const column of [0, 1]) {
        for (const range of [[0, 5000], [0, 10000], [1000, 2000], [-3000, 1360]] as [number, number][]) {
          for (const tolerance of [1e-3, 1e-5, 0]) {
            for (const levels of [9, 3, 1]) await expectSameAsBisection(model, problem([1, amount], 1, column, range, tolerance), levels);
          }
        }
      }
    }
  });

  it('on credit_approval_coloured, marking channel, and on onnx_deployment, marking channel', async () => {
    for (const marking of [0, 0.3, 0.9]) {
      for (const column of [0, 1]) {
        for (const range of [[0, 1], [0.2, 0.7], [-1, 2]] as [number, number][]) {
          for (const tolerance of [1e-3, 1e-6]) {
            for (const levels of [9, 4]) {
              await expectSameAsBisection(onnxModel(deployment), problem([marking], 0, column, range, tolerance), levels);
              await expectSameAsBisection(onnxModel(credit), problem([marking, 2000], 0, column, [-2, 0], tolerance), levels);
            }
          }
        }
      }
    }
  });

  it('answers found: false, like PETRA, when the range does not bracket 0.5', async () => {
    const cases: [BatchModel, CounterfactualProblem][] = [
      [onnxModel(credit), problem([1, 800], 1, 0, [2000, 5000])],
      [onnxModel(credit), problem([1, 800], 1, 0, [0, 1000])],
      [onnxModel(deployment), problem([0.9], 0, 0, [0.6, 1])],
      [onnxModel(deployment), problem([0.9], 0, 1, [0.6, 0.6])],
    ];
    for (const [model, p] of cases) {
      const plain = await plainBisection(model, p);
      const batched = await batchedBisection(model, p, { levels: 9 });
      expect(plain.found).toBe(false);
      expect(batched).toMatchObject({ found: false, input: null, activation: null, iterations: 0, calls: 1 });
      expect(batched.originalActivation).toBe(plain.originalActivation);
    }
  });

  it('covers PETRA’s deepest search (tolerance 0: the interval tolerance stops it) in two calls of 9 levels', async () => {
    const p = problem([1, 800], 1, 0, [0, 5000], 0);
    const plain = await plainBisection(onnxModel(credit), p);
    const batched = await batchedBisection(onnxModel(credit), p, { levels: 9 });
    expect(plain.iterations).toBe(15);
    expect(batched).toMatchObject({ input: plain.input, activation: plain.activation, iterations: 15, calls: 2 });
  });

  it('stops after PETRA’s 50 iterations when float64 can no longer halve the bracket', async () => {
    const p = problem([0], 0, 0, [1e16, 1e16 + 4], 0);
    const steep: BatchModel = { width: 1, outputs: 1, infer: async (rows, count) => Float32Array.from({ length: count }, (_, i) => (rows[i]! >= 1e16 ? 1 : 0)) };
    const plain = await plainBisection(steep, p);
    const batched = await batchedBisection(steep, p, { levels: 9 });
    expect(plain.iterations).toBeLessThanOrEqual(MAX_ITERATIONS);
    expect(batched).toMatchObject({ found: plain.found, input: plain.input, iterations: plain.iterations });
  });
});

describe('nearest: the crossing nearest to the fed input', () => {
  it('picks the crossing nearest to the original input among several', async () => {
    // 0.5 + 0.4·sin(x) crosses 0.5 at kπ; from x = 10 the nearest is 3π, from x = 4 it is π. PETRA's interval
    // tolerance, 1e-4 of the range (2e-3), stops the refinement before |activation − 0.5| < 1e-4.
    for (const [origin, expected] of [[10, 3 * Math.PI], [4, Math.PI], [17, 5 * Math.PI], [0.1, 0]] as const) {
      const result = await batchedBisection(wave, problem([origin], 0, 0, [0, 20], 1e-4), { levels: 9, nearestTo: Math.fround(origin) });
      expect(result.found).toBe(true);
      expect(Math.abs(result.input! - expected), `from ${origin}`).toBeLessThan(2e-3);
      expect(Math.abs(result.activation! - 0.5)).toBeLessThan(0.4 * 2e-3);
      expect(result.crossingsOnGrid).toBe(7);
    }
  });

  it('finds crossings PETRA cannot when both ends of the range are on the same side', async () => {
    const p = problem([1], 0, 0, [0.5, 2 * Math.PI + 0.5], 1e-4);
    expect((await plainBisection(wave, p)).found).toBe(false);
    const result = await batchedBisection(wave, p, { levels: 9, nearestTo: 1 });
    expect(result.found).toBe(true);
    expect(Math.abs(result.input! - Math.PI)).toBeLessThan(1e-3);
  });

  it('with a single crossing the range brackets, answers what bisection answers, bit for bit', async () => {
    const p = problem([0.5], 0, 0, [1, 5], 1e-4);
    const plain = await plainBisection(wave, p);
    const nearest = await batchedBisection(wave, p, { levels: 9, nearestTo: 0.5 });
    expect(nearest.crossingsOnGrid).toBe(1);
    expect([nearest.input, nearest.activation, nearest.iterations]).toEqual([plain.input, plain.activation, plain.iterations]);
  });

  it('reports no crossing when the grid sees none', async () => {
    const result = await batchedBisection(wave, problem([0.5], 0, 0, [0.5, 2.5], 1e-4), { levels: 9, nearestTo: 0.5 });
    expect(result).toMatchObject({ found: false, crossingsOnGrid: 0, calls: 1 });
  });
});

describe('levelsPerCall', () => {
  it('keeps the first call under --max-batch-rows and about 1 Mi activations', () => {
    expect(levelsPerCall(1024, 2)).toBe(9);
    expect(levelsPerCall(1024, 2001)).toBe(9);
    expect(levelsPerCall(100_000, 2)).toBe(12);
    expect(levelsPerCall(100_000, 2001)).toBe(9);
    expect(levelsPerCall(100_000, 200_000)).toBe(1);
    expect(levelsPerCall(1, 2)).toBe(1);
    for (const [rows, outputs] of [[1024, 2], [64, 2], [5000, 300]] as const) {
      const levels = levelsPerCall(rows, outputs);
      expect(2 ** levels + 2).toBeLessThan(rows);
    }
  });
});
