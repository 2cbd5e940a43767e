import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { RIDDERS } from '../../src/diagnostics/finite-difference.js';
import { testApp } from '../helpers/app.js';
import { modelPath } from '../helpers/fixtures.js';
import { credit, CREDIT_AMOUNTS, CREDIT_MARKINGS, deployment, DEPLOYMENT_MARKINGS } from './closed-form.js';
import { expectError, forwardActivation, inferenceRuns, post } from './helpers.js';
import type { SensitivityResponse } from '../../src/schemas/diagnostics.js';

type Sensitivity = SensitivityResponse;

async function sensitivity(app: App, body: object): Promise<Sensitivity> {
  const response = await post(app, '/sensitivity', body);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Sensitivity>();
}

/**
 * The old fixed step's documented bounds (3e-4 marking, 5e-5 value, of the largest |gradient| over the measured sweep):
 * Ridders must stay within them on these smooth nets, and within its own per-gradient error estimate.
 */
const BOUND = { marking: 3e-4, value: 5e-5 } as const;
const ROWS_PER_INPUT = 2 * RIDDERS.steps;
/** The steps Ridders may report for an input at x with the given scale: h₀ / ratio^k as fed in float32 (up to rounding). */
const isRiddersStep = (step: number, x: number, scale: number): boolean => {
  const h0 = RIDDERS.initialStep * Math.max(Math.abs(x), scale);
  return Array.from({ length: RIDDERS.steps }, (_, k) => h0 / RIDDERS.ratio ** k).some((h) => Math.abs(step - h) <= 1e-6 * h);
};
const expectWithin = (gradient: number, estimate: number, exact: number, bound: number, where: string): void => {
  const error = Math.abs(gradient - exact);
  expect(error, where).toBeLessThanOrEqual(bound);
  expect(error, `${where}: error estimate ${estimate}`).toBeLessThanOrEqual(estimate);
};
const maxOf = (values: number[]): number => Math.max(...values.map(Math.abs));
const CREDIT_SCALE = {
  marking: maxOf(CREDIT_MARKINGS.flatMap((m) => CREDIT_AMOUNTS.flatMap((v) => credit(m, v).dMarking))),
  value: maxOf(CREDIT_MARKINGS.flatMap((m) => CREDIT_AMOUNTS.flatMap((v) => credit(m, v).dValue))),
};
const DEPLOYMENT_SCALE = maxOf(DEPLOYMENT_MARKINGS.flatMap((m) => deployment(m).dMarking));

describe('POST /sensitivity on credit_approval_coloured', () => {
  let app: App;

  beforeAll(async () => {
    app = await testApp({ bundle: modelPath('credit_approval_coloured') });
  });
  afterAll(async () => app.close());

  it("has PETRA's fields, a gradient per request key in request order (0.0 for keys that are no input), and the method", async () => {
    const s = await sensitivity(app, { input_marking: { p_zzz: 1, p_submitted: 1, t_approve: 0.3 }, input_values: { p_submitted: 1200, p_other: 2 }, target_transition: 't_approve' });
    expect(Object.keys(s)).toEqual(['target_transition', 'target_label', 'base_activation', 'marking_gradients', 'value_gradients', 'gradient_errors', 'method', 'ignored_inputs']);
    expect(s.target_transition).toBe('t_approve');
    expect(s.target_label).toBe('approve loan');
    expect(s.base_activation).toBe(await forwardActivation(app, 't_approve', { p_submitted: 1 }, { p_submitted: 1200 }));
    expect(Object.keys(s.marking_gradients)).toEqual(['p_zzz', 'p_submitted', 't_approve']);
    expect(s.marking_gradients.p_zzz).toBe(0);
    expect(s.marking_gradients.t_approve).toBe(0);
    expect(Object.keys(s.value_gradients)).toEqual(['p_submitted', 'p_other']);
    expect(s.value_gradients.p_other).toBe(0);
    expect(s.ignored_inputs).toEqual(['/input_marking/p_zzz', '/input_marking/t_approve', '/input_values/p_other']);
    // Per key, in the same order; keys that are no ONNX input are exactly 0.0, so their error is 0.
    expect(Object.keys(s.gradient_errors.marking)).toEqual(['p_zzz', 'p_submitted', 't_approve']);
    expect(Object.keys(s.gradient_errors.value)).toEqual(['p_submitted', 'p_other']);
    expect(s.gradient_errors.marking.p_zzz).toBe(0);
    expect(s.gradient_errors.value.p_other).toBe(0);
    expect(s.gradient_errors.marking.p_submitted).toBeGreaterThan(0);
    expect(s.gradient_errors.value.p_submitted).toBeGreaterThan(0);
    expect(s.method).toMatchObject({
      name: 'ridders_central_difference',
      initial_relative_step: RIDDERS.initialStep,
      step_ratio: RIDDERS.ratio,
      steps: RIDDERS.steps,
      rows_per_input: ROWS_PER_INPUT,
      max_error_estimate: Math.max(s.gradient_errors.marking.p_submitted!, s.gradient_errors.value.p_submitted!),
      inference_calls: 1,
      rows: 1 + ROWS_PER_INPUT * 2,
    });
    expect(s.method).not.toHaveProperty('measured_error');
    expect(s.method.formula).toMatch(/Ridders/);
    expect(s.method.accuracy).toMatch(/closed-form/);
    expect(s.ranked_gradients).toBeUndefined();
  });

  it('matches the closed-form derivative of the guard and the firing sigmoid within the documented accuracy', async () => {
    for (const m of [0, 0.5, 1]) {
      for (const v of [0, 800, 1000, 1356, 2500, 5000]) {
        for (const [column, target] of [[0, 't_approve'], [1, 't_decline']] as const) {
          const s = await sensitivity(app, { input_marking: { p_submitted: m }, input_values: { p_submitted: v }, target_transition: target });
          const exact = credit(Math.fround(m), Math.fround(v));
          const where = `${target} at m=${m}, v=${v}`;
          expectWithin(s.value_gradients.p_submitted!, s.gradient_errors.value.p_submitted!, exact.dValue[column], BOUND.value * CREDIT_SCALE.value, `value ${where}`);
          expectWithin(s.marking_gradients.p_submitted!, s.gradient_errors.marking.p_submitted!, exact.dMarking[column], BOUND.marking * CREDIT_SCALE.marking, `marking ${where}`);
        }
      }
    }
  });

  it('with all: true ranks every exported input by |gradient|, with the attribute its spec reads', async () => {
    const s = await sensitivity(app, { input_marking: {}, input_values: null, target_transition: 't_approve', all: true });
    expect(s.marking_gradients).toEqual({});
    expect(s.value_gradients).toEqual({});
    const ranked = s.ranked_gradients!;
    expect(ranked.map((r) => r.input).sort()).toEqual(['marking__p_submitted', 'value__p_submitted']);
    for (let i = 1; i < ranked.length; i++) expect(Math.abs(ranked[i - 1]!.gradient)).toBeGreaterThanOrEqual(Math.abs(ranked[i]!.gradient));
    const value = ranked.find((r) => r.channel === 'value')!;
    const marking = ranked.find((r) => r.channel === 'marking')!;
    // Omitted inputs are differentiated at the bundle's defaults: marking 0, value 1.
    expect(value).toMatchObject({ input: 'value__p_submitted', place: 'p_submitted', attribute: 'amount', value: 1 });
    expect(marking).toMatchObject({ input: 'marking__p_submitted', place: 'p_submitted', value: 0 });
    expect(marking.attribute).toBeUndefined();
    // The step relative to the value channel's scale (the guard threshold, 1000), not to x = 1.
    expect(isRiddersStep(value.step, 1, 1000), `value step ${value.step}`).toBe(true);
    expect(isRiddersStep(marking.step, 0, 1), `marking step ${marking.step}`).toBe(true);
    const exact = credit(0, 1);
    expectWithin(value.gradient, value.error_estimate, exact.dValue[0], BOUND.value * CREDIT_SCALE.value, 'value');
    expectWithin(marking.gradient, marking.error_estimate, exact.dMarking[0], BOUND.marking * CREDIT_SCALE.marking, 'marking');
    expect(s.method.rows).toBe(1 + 2 * ROWS_PER_INPUT);
    expect(s.method.max_error_estimate).toBe(Math.max(value.error_estimate, marking.error_estimate));
    expect(s.gradient_errors).toEqual({ marking: {}, value: {} });
  });

  it('treats input_values absent like null: value_gradients is {}', async () => {
    const s = await sensitivity(app, { input_marking: { p_submitted: 1 }, target_transition: 't_decline' });
    expect(s.value_gradients).toEqual({});
    expect(s.gradient_errors.value).toEqual({});
    expect(s.method.rows).toBe(1 + ROWS_PER_INPUT);
  });

  it('costs one ONNX run', async () => {
    const before = await inferenceRuns(app);
    await sensitivity(app, { input_marking: { p_submitted: 1 }, input_values: { p_submitted: 1000 }, target_transition: 't_approve', all: true });
    expect((await inferenceRuns(app)) - before).toBe(1);
  });

  it("gives PETRA's 400 for an unknown target_transition and refuses malformed requests", async () => {
    const body = expectError(await post(app, '/sensitivity', { input_marking: {}, target_transition: 't_nowhere' }), 400, 'unknown_transition', 'body/target_transition');
    expect(body.message).toBe("target_transition 't_nowhere' is not in the net's transition set");
    expectError(await post(app, '/sensitivity', { input_marking: {} }), 400, 'validation_error', 'body/target_transition');
    expectError(await post(app, '/sensitivity', { target_transition: 't_approve' }), 400, 'validation_error', 'body/input_marking');
    expectError(await post(app, '/sensitivity', { input_marking: {}, target_transition: 't_approve', all: 1 }), 400, 'validation_error', 'body/all');
    expectError(await post(app, '/sensitivity', { input_marking: { p_submitted: 'x' }, target_transition: 't_approve' }), 400, 'invalid_input', 'body/input_marking/p_submitted');
  });
});

describe('POST /sensitivity on onnx_deployment (a 4× steeper sigmoid)', () => {
  let app: App;

  beforeAll(async () => {
    app = await testApp({ bundle: modelPath('onnx_deployment') });
  });
  afterAll(async () => app.close());

  it('matches the closed-form derivative within the documented accuracy', async () => {
    for (const m of [0, 0.25, 0.45, 0.49, 0.5, 0.7, 1]) {
      for (const [column, target] of [[0, 't_approve'], [1, 't_decline']] as const) {
        const s = await sensitivity(app, { input_marking: { p_application: m }, target_transition: target, all: true });
        const exact = deployment(Math.fround(m)).dMarking[column];
        const estimate = s.gradient_errors.marking.p_application!;
        // 20× stricter than the old bound: Ridders measured 6e-6 of the largest gradient here (fd-accuracy.test.ts).
        expectWithin(s.marking_gradients.p_application!, estimate, exact, (BOUND.marking / 20) * DEPLOYMENT_SCALE, `${target} at ${m}`);
        const [ranked] = s.ranked_gradients!;
        expect(s.ranked_gradients).toHaveLength(1);
        expect(ranked).toEqual({ input: 'marking__p_application', place: 'p_application', channel: 'marking', attribute: 'risk_score', value: Math.fround(m), gradient: s.marking_gradients.p_application, step: ranked!.step, error_estimate: estimate });
        expect(isRiddersStep(ranked!.step, Math.fround(m), 1), `step ${ranked!.step}`).toBe(true);
      }
    }
  });
});
