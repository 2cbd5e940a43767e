import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { finiteDifferences, MEASURED_ERROR, RELATIVE_STEP, SCHEME, type Scheme } from '../../src/diagnostics/finite-difference.js';
import type { BatchModel } from '../../src/diagnostics/model.js';
import { testApp } from '../helpers/app.js';
import { modelPath } from '../helpers/fixtures.js';
import { credit, CREDIT_AMOUNTS, CREDIT_MARKINGS, deployment, DEPLOYMENT_MARKINGS } from './closed-form.js';

/** Worst absolute error and its ratio to the largest exact gradient, over a sweep. */
interface Worst {
  abs: number;
  max: number;
}
const ratio = (w: Worst): number => w.abs / w.max;
const track = (w: Worst, estimate: number, exact: number): void => {
  w.abs = Math.max(w.abs, Math.abs(estimate - exact));
  w.max = Math.max(w.max, Math.abs(exact));
};

/**
 * The measurement behind RELATIVE_STEP, SCHEME and MEASURED_ERROR: finite differences on the real float32 graphs
 * (ONNX Runtime) against closed-form derivatives, for each step η = 2^-2 … 2^-14 and both schemes. The table is
 * printed; the assertions pin what the README and every /sensitivity response state.
 */
describe('finite-difference step, measured against closed-form derivatives', () => {
  let creditApp: App;
  let deploymentApp: App;
  const model = (app: App): BatchModel => ({ width: app.petra.net.inputs.length, outputs: app.petra.net.outputs.length, infer: (rows, count) => app.petra.batcher.infer(rows, count) });

  beforeAll(async () => {
    creditApp = await testApp({ bundle: modelPath('credit_approval_coloured') });
    deploymentApp = await testApp({ bundle: modelPath('onnx_deployment') });
  });
  afterAll(async () => {
    await creditApp.close();
    await deploymentApp.close();
  });

  async function sweep(eta: number, scheme: Scheme): Promise<{ creditMarking: Worst; creditValue: Worst; deploymentMarking: Worst }> {
    const creditMarking = { abs: 0, max: 0 };
    const creditValue = { abs: 0, max: 0 };
    const deploymentMarking = { abs: 0, max: 0 };
    for (const m of CREDIT_MARKINGS) {
      for (const v of CREDIT_AMOUNTS) {
        const base = new Float32Array([m, v]);
        const exact = credit(base[0]!, base[1]!);
        for (const column of [0, 1] as const) {
          const result = await finiteDifferences(model(creditApp), base, column, [{ slot: 0, scale: 1 }, { slot: 1, scale: 1000 }], { eta, scheme });
          track(creditMarking, result.gradients.get(0)!.gradient, exact.dMarking[column]);
          track(creditValue, result.gradients.get(1)!.gradient, exact.dValue[column]);
        }
      }
    }
    for (const m of DEPLOYMENT_MARKINGS) {
      const base = new Float32Array([m]);
      const exact = deployment(base[0]!);
      for (const column of [0, 1] as const) {
        const result = await finiteDifferences(model(deploymentApp), base, column, [{ slot: 0, scale: 1 }], { eta, scheme });
        track(deploymentMarking, result.gradients.get(0)!.gradient, exact.dMarking[column]);
      }
    }
    return { creditMarking, creditValue, deploymentMarking };
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

  it(`η = 2^${Math.log2(RELATIVE_STEP)} with ${SCHEME} is at the optimum and within the stated accuracy`, async () => {
    const rows: string[] = [];
    const worstOf = new Map<string, number>();
    for (const scheme of ['central', 'richardson'] as const) {
      for (let e = 2; e <= 14; e++) {
        const eta = 2 ** -e;
        const w = await sweep(eta, scheme);
        const worst = Math.max(ratio(w.creditMarking), ratio(w.creditValue), ratio(w.deploymentMarking));
        worstOf.set(`${scheme} ${e}`, worst);
        rows.push(
          `${scheme.padEnd(10)} η=2^-${String(e).padEnd(2)}  credit marking ${w.creditMarking.abs.toExponential(1)} (${ratio(w.creditMarking).toExponential(1)})` +
            `  credit value ${w.creditValue.abs.toExponential(1)} (${ratio(w.creditValue).toExponential(1)})` +
            `  deployment marking ${w.deploymentMarking.abs.toExponential(1)} (${ratio(w.deploymentMarking).toExponential(1)})`,
        );
      }
    }
    console.log(`|error| (|error| / largest |gradient|):\n${rows.join('\n')}`);

    const chosen = await sweep(RELATIVE_STEP, SCHEME);
    expect(ratio(chosen.creditMarking)).toBeLessThanOrEqual(MEASURED_ERROR.marking);
    expect(ratio(chosen.deploymentMarking)).toBeLessThanOrEqual(MEASURED_ERROR.marking);
    expect(ratio(chosen.creditValue)).toBeLessThanOrEqual(MEASURED_ERROR.value);
    // No other step or scheme of the sweep is better by more than a factor 2 on the worst case.
    const best = Math.min(...worstOf.values());
    expect(worstOf.get(`${SCHEME} ${-Math.log2(RELATIVE_STEP)}`)!).toBeLessThanOrEqual(2 * best);
  }, 120_000);
});
