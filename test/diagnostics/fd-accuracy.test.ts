import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { finiteDifferences, RIDDERS, ridders, type RiddersParameters } from '../../src/diagnostics/finite-difference.js';
import type { BatchModel } from '../../src/diagnostics/model.js';
import { testApp } from '../helpers/app.js';
import { modelPath } from '../helpers/fixtures.js';
import { credit, CREDIT_AMOUNTS, CREDIT_MARKINGS, deployment, DEPLOYMENT_MARKINGS } from './closed-form.js';
import { fittedDerivative, STEEP_SWEEP } from './reference-derivative.js';

/** Worst absolute error, its ratio to the largest exact gradient, and how often the error estimate fell short. */
interface Worst {
  abs: number;
  max: number;
  short: number;
}
const ratio = (w: Worst): number => w.abs / w.max;
const track = (w: Worst, estimate: { gradient: number; error: number }, exact: number, uncertainty = 0): void => {
  const error = Math.abs(estimate.gradient - exact);
  w.abs = Math.max(w.abs, error);
  w.max = Math.max(w.max, Math.abs(exact));
  if (error > estimate.error + uncertainty) w.short++;
};
const model = (app: App): BatchModel => ({ width: app.petra.net.inputs.length, outputs: app.petra.net.outputs.length, infer: (rows, count) => app.petra.batcher.infer(rows, count) });

/**
 * The measurement behind RIDDERS and ACTIVATION_NOISE: Ridders' method on the real float32 graphs (ONNX Runtime) for a
 * grid of parameters, against closed-form derivatives (onnx_deployment, credit_approval_coloured) and against the
 * fitted reference on compliance_audit's steep turn (see reference-derivative.ts and steep-sensitivity.test.ts). The
 * table is printed; the assertions pin what the README and every /sensitivity response state.
 */
describe("Ridders' parameters, measured against closed-form derivatives and a converged reference", () => {
  let creditApp: App;
  let deploymentApp: App;
  let steepApp: App;
  const steepReference: { base: Float32Array; column: number; exact: number }[] = [];

  beforeAll(async () => {
    creditApp = await testApp({ bundle: modelPath('credit_approval_coloured') });
    deploymentApp = await testApp({ bundle: modelPath('onnx_deployment') });
    steepApp = await testApp({ bundle: modelPath('compliance_audit') });
    for (const x of STEEP_SWEEP) {
      const base = new Float32Array([x]);
      for (let column = 0; column < steepApp.petra.net.outputs.length; column++) {
        steepReference.push({ base, column, exact: await fittedDerivative(model(steepApp), base, 0, column, 0.002) });
      }
    }
  });
  afterAll(async () => {
    await creditApp.close();
    await deploymentApp.close();
    await steepApp.close();
  });

  async function sweep(parameters: RiddersParameters): Promise<{ creditMarking: Worst; creditValue: Worst; deploymentMarking: Worst; steep: Worst }> {
    const creditMarking = { abs: 0, max: 0, short: 0 };
    const creditValue = { abs: 0, max: 0, short: 0 };
    const deploymentMarking = { abs: 0, max: 0, short: 0 };
    const steep = { abs: 0, max: 0, short: 0 };
    for (const m of CREDIT_MARKINGS) {
      for (const v of CREDIT_AMOUNTS) {
        const base = new Float32Array([m, v]);
        const exact = credit(base[0]!, base[1]!);
        for (const column of [0, 1] as const) {
          const result = await finiteDifferences(model(creditApp), base, column, [{ slot: 0, scale: 1 }, { slot: 1, scale: 1000 }], parameters);
          track(creditMarking, result.gradients.get(0)!, exact.dMarking[column]);
          track(creditValue, result.gradients.get(1)!, exact.dValue[column]);
        }
      }
    }
    for (const m of DEPLOYMENT_MARKINGS) {
      const base = new Float32Array([m]);
      const exact = deployment(base[0]!);
      for (const column of [0, 1] as const) {
        const result = await finiteDifferences(model(deploymentApp), base, column, [{ slot: 0, scale: 1 }], parameters);
        track(deploymentMarking, result.gradients.get(0)!, exact.dMarking[column]);
      }
    }
    for (const { base, column, exact } of steepReference) {
      const result = await finiteDifferences(model(steepApp), base, column, [{ slot: 0, scale: 1 }], parameters);
      // The reference's own uncertainty, as steep-sensitivity.test.ts bounds it.
      track(steep, result.gradients.get(0)!, exact, 1e-5 * Math.abs(exact) + 5e-5);
    }
    return { creditMarking, creditValue, deploymentMarking, steep };
  }

  it('closed-form activations match the graph', async () => {
    let worst = 0;
    for (const m of CREDIT_MARKINGS) {
      for (const v of CREDIT_AMOUNTS) {
        const row = new Float32Array([m, v]);
        const out = await creditApp.petra.batcher.infer(row, 1);
        const exact = credit(row[0]!, row[1]!);
        worst = Math.max(worst, Math.abs(out[0]! - exact.activation[0]), Math.abs(out[1]! - exact.activation[1]));
      }
    }
    for (const m of DEPLOYMENT_MARKINGS) {
      const row = new Float32Array([m]);
      const out = await deploymentApp.petra.batcher.infer(row, 1);
      const exact = deployment(row[0]!);
      worst = Math.max(worst, Math.abs(out[0]! - exact.activation[0]), Math.abs(out[1]! - exact.activation[1]));
    }
    expect(worst).toBeLessThan(2e-7);
  });

  it('the tableau is exact on polynomials of the degree it cancels, and its estimate bounds what it leaves', () => {
    // D(h) of x³ at 1 is 3 + h²: one column cancels h² exactly.
    const cubic = [0.5, 0.25, 0.125].map((h) => 3 + h * h);
    expect(ridders(cubic, 2, 2).value).toBeCloseTo(3, 14);
    // e^x at 0: the truncation error after extrapolation is far below what the estimate claims.
    const exp = Array.from({ length: 8 }, (_, k) => 2 ** -1 / 2 ** k).map((h) => (Math.exp(h) - Math.exp(-h)) / (2 * h));
    const estimate = ridders(exp, 2, 2);
    expect(Math.abs(estimate.value - 1)).toBeLessThanOrEqual(estimate.error);
    expect(estimate.error).toBeLessThan(1e-12);
    // One-sided (order 1): (e^h − 1) / h.
    const forward = Array.from({ length: 8 }, (_, k) => 2 ** -2 / 2 ** k).map((h) => Math.expm1(h) / h);
    const oneSided = ridders(forward, 2, 1);
    expect(Math.abs(oneSided.value - 1)).toBeLessThanOrEqual(oneSided.error);
    expect(oneSided.error).toBeLessThan(1e-9);
  });

  it('differences one-sidedly where x ± h₀ would pass the largest float32, and still bounds its error', async () => {
    // σ(x / 1e38) computed in float32 as a graph would: the derivative at 3.4e38 is σ'(3.4) / 1e38.
    const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
    const synthetic: BatchModel = {
      width: 1,
      outputs: 1,
      infer: (rows, count) => Promise.resolve(Float32Array.from({ length: count }, (_, i) => sigmoid(rows[i]! / 1e38))),
    };
    for (const x of [3.4e38, -3.4e38]) {
      const base = new Float32Array([x]);
      const { gradients } = await finiteDifferences(synthetic, base, 0, [{ slot: 0, scale: 1 }]);
      const { gradient, error, step } = gradients.get(0)!;
      const z = base[0]! / 1e38;
      const exact = (sigmoid(z) * (1 - sigmoid(z))) / 1e38;
      expect(Number.isFinite(gradient) && Number.isFinite(step)).toBe(true);
      expect(Math.abs(gradient - exact)).toBeLessThanOrEqual(error);
      // The rounding floor, 2^-20 over the finest difference fed, is about 1.2e-3 of the gradient here.
      expect(error).toBeLessThan(2e-3 * Math.abs(exact));
    }
  });

  it(`η₀ = 2^${Math.log2(RIDDERS.initialStep)}, ratio ${RIDDERS.ratio}, ${RIDDERS.steps} steps: within the stated accuracy and at the optimum of the grid`, async () => {
    const rows: string[] = [];
    const worstOf = new Map<string, number>();
    const key = (p: RiddersParameters): string => `η₀=2^${Math.log2(p.initialStep)} ratio ${p.ratio} steps ${p.steps}`;
    for (const initialStep of [2 ** -3, 2 ** -4]) {
      for (const stepRatio of [2, 1.6]) {
        for (const steps of [6, 8, 10, 12]) {
          const p = { initialStep, ratio: stepRatio, steps };
          const w = await sweep(p);
          const fmt = (x: Worst): string => `${x.abs.toExponential(1)} (${ratio(x).toExponential(1)}${x.short > 0 ? `, ${x.short} short` : ''})`;
          worstOf.set(key(p), Math.max(ratio(w.creditMarking), ratio(w.creditValue), ratio(w.deploymentMarking), ratio(w.steep)));
          rows.push(
            `${key(p).padEnd(28)} credit marking ${fmt(w.creditMarking)}  credit value ${fmt(w.creditValue)}  deployment ${fmt(w.deploymentMarking)}  compliance_audit ${fmt(w.steep)}`,
          );
        }
      }
    }
    console.log(`|error| (|error| / largest |gradient|, how often the error estimate fell short):\n${rows.join('\n')}`);

    const chosen = await sweep(RIDDERS);
    // At least as strict as the old fixed Richardson step's bounds (marking 3e-4, value 5e-5 of the largest gradient).
    expect(ratio(chosen.creditMarking)).toBeLessThanOrEqual(2e-4);
    expect(ratio(chosen.deploymentMarking)).toBeLessThanOrEqual(2e-5);
    expect(ratio(chosen.creditValue)).toBeLessThanOrEqual(2.5e-5);
    // Over all six of compliance_audit's transitions, 1.9e-5 (1.3e-3 at t_close_approved's gradients near 69).
    expect(ratio(chosen.steep)).toBeLessThanOrEqual(3e-5);
    // The per-gradient error estimate bounded the actual error at every point of all four sweeps.
    expect([chosen.creditMarking.short, chosen.creditValue.short, chosen.deploymentMarking.short, chosen.steep.short]).toEqual([0, 0, 0, 0]);
    // No other point of the grid is better by more than a factor 2 on the worst case.
    const best = Math.min(...worstOf.values());
    expect(worstOf.get(key(RIDDERS))!).toBeLessThanOrEqual(2 * best);
  }, 240_000);
});
