import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { testApp } from '../helpers/app.js';
import { copyBundle, editSidecar, removeTempDirs } from '../helpers/cli.js';
import { modelPath } from '../helpers/fixtures.js';
import { CREDIT_GUARDS } from './closed-form.js';
import { expectError, forwardActivation, inferenceRuns, post } from './helpers.js';
import type { CounterfactualResponse } from '../../src/schemas/diagnostics.js';

type Counterfactual = CounterfactualResponse;

const FIELDS = ['counterfactual_activation', 'counterfactual_input', 'fed_input', 'flipped_channel', 'flipped_place', 'found', 'original_activation', 'original_input', 'search', 'target_label', 'target_transition'];

async function counterfactual(app: App, body: object): Promise<Counterfactual> {
  const response = await post(app, '/counterfactual', body);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Counterfactual>();
}

describe('POST /counterfactual on credit_approval_coloured (value channel, guard declared at 1000)', () => {
  let app: App;
  const base = { input_marking: { p_submitted: 1 }, input_values: { p_submitted: 800 }, flip_place: 'p_submitted', flip_channel: 'value', search_range: [0, 5000] };

  beforeAll(async () => {
    app = await testApp({ bundle: modelPath('credit_approval_coloured') });
  });
  afterAll(async () => app.close());

  it('finds the amount where approve crosses 0.5, and a forward pass there agrees within tolerance', async () => {
    for (const [target, label, guard] of [['t_approve', 'approve loan', CREDIT_GUARDS.approve], ['t_decline', 'decline loan', CREDIT_GUARDS.decline]] as const) {
      // Finer tolerances are not reachable here: PETRA also stops once the bracket is narrower than 1e-4 of the range
      // (0.5 of 5000), where the activation moves by about 1e-4.
      for (const tolerance of [1e-3, 3e-4]) {
        const cf = await counterfactual(app, { ...base, target_transition: target, tolerance });
        expect(Object.keys(cf).sort()).toEqual(FIELDS);
        expect(cf).toMatchObject({ found: true, target_transition: target, target_label: label, flipped_place: 'p_submitted', flipped_channel: 'value', original_input: 800, fed_input: 800 });
        expect(cf.original_activation).toBe(await forwardActivation(app, target, { p_submitted: 1 }, { p_submitted: 800 }));
        expect(Math.abs(cf.counterfactual_activation! - 0.5)).toBeLessThan(tolerance);
        // The forward pass at counterfactual_input is the same row: the same activation, within tolerance of 0.5.
        const there = await forwardActivation(app, target, { p_submitted: 1 }, { p_submitted: cf.counterfactual_input! });
        expect(there).toBe(cf.counterfactual_activation);
        expect(Math.abs(there - 0.5)).toBeLessThan(tolerance);
        // The guard was trained away from its declared 1000: the crossing is where the trained guard sits (slope 2.5e-4 per unit).
        expect(Math.abs(cf.counterfactual_input! - guard)).toBeLessThan(5);
      }
    }
  });

  it('costs at most two ONNX runs (PETRA: one forward pass per evaluation, up to 53)', async () => {
    const before = await inferenceRuns(app);
    const cf = await counterfactual(app, { ...base, target_transition: 't_approve', tolerance: 1e-6 });
    const runs = (await inferenceRuns(app)) - before;
    expect(cf.search.iterations).toBeGreaterThan(10);
    expect(runs).toBe(cf.search.inference_calls);
    expect(runs).toBeLessThanOrEqual(2);
    expect(cf.search).toMatchObject({ strategy: 'bisection', levels_per_call: 9, grid_points: 513, crossings_on_grid: 1 });
    expect(cf.search.rows).toBeLessThanOrEqual(514 + 511);
  });

  it('answers found: false with null fields where the range does not bracket 0.5', async () => {
    const cf = await counterfactual(app, { ...base, target_transition: 't_approve', search_range: [2000, 5000] });
    expect(Object.keys(cf).sort()).toEqual(FIELDS);
    expect(cf).toMatchObject({
      found: false,
      target_transition: 't_approve',
      target_label: null,
      flipped_place: null,
      flipped_channel: null,
      original_input: null,
      counterfactual_input: null,
      original_activation: null,
      counterfactual_activation: null,
      fed_input: 800,
    });
    expect(cf.search).toMatchObject({ crossings_on_grid: 0, iterations: 0, inference_calls: 1 });
  });

  it('nearest lands on the crossing too and says so', async () => {
    const cf = await counterfactual(app, { ...base, target_transition: 't_approve', nearest: true });
    expect(cf.search.strategy).toBe('nearest');
    expect(Math.abs(cf.counterfactual_activation! - 0.5)).toBeLessThan(1e-3);
    expect(Math.abs((await forwardActivation(app, 't_approve', { p_submitted: 1 }, { p_submitted: cf.counterfactual_input! })) - 0.5)).toBeLessThan(1e-3);
  });

  it('varies the marking channel too, and accepts numeric strings and lists ignored keys', async () => {
    const cf = await counterfactual(app, { input_marking: { p_submitted: '0.5', p_nowhere: 1 }, input_values: { p_submitted: 5000 }, flip_place: 'p_submitted', target_transition: 't_approve', search_range: [-2, 0] });
    expect(cf).toMatchObject({ found: true, flipped_channel: 'marking', original_input: 0.5, ignored_inputs: ['/input_marking/p_nowhere'] });
    expect(Math.abs((await forwardActivation(app, 't_approve', { p_submitted: cf.counterfactual_input! }, { p_submitted: 5000 })) - 0.5)).toBeLessThan(1e-3);
  });

  it("gives PETRA's 400 texts for an unknown flip_place (checked first) and target_transition", async () => {
    let body = expectError(await post(app, '/counterfactual', { ...base, flip_place: 'p_nowhere', target_transition: 't_nowhere' }), 400, 'unknown_place', 'body/flip_place');
    expect(body.message).toBe("flip_place 'p_nowhere' is not in the net's place set");
    body = expectError(await post(app, '/counterfactual', { ...base, flip_place: "it's", target_transition: 't_approve' }), 400, 'unknown_place');
    expect(body.message).toBe('flip_place "it\'s" is not in the net\'s place set');
    // PETRA's 400 for the transition comes before our 422 for a place that is no input.
    body = expectError(await post(app, '/counterfactual', { ...base, flip_place: 'p_approved', target_transition: 't_nowhere' }), 400, 'unknown_transition', 'body/target_transition');
    expect(body.message).toBe("target_transition 't_nowhere' is not in the net's transition set");
  });

  it('answers 422 for a place of the net that is no ONNX input, listing the flippable ones', async () => {
    const body = expectError(await post(app, '/counterfactual', { ...base, flip_place: 'p_approved', target_transition: 't_approve' }), 422, 'place_not_flippable', 'body/flip_place');
    expect(body.message).toMatch(/flip_place 'p_approved' is a place of the net but no ONNX input on the value channel/);
    expect(body.message).toMatch(/flippable places on that channel: p_submitted/);
  });

  it('answers 422 missing_flip_value for flip_channel "value" without input_values[flip_place] (PETRA: 500)', async () => {
    for (const [input_values, path] of [
      [undefined, 'body/input_values'],
      [null, 'body/input_values'],
      [{}, 'body/input_values/p_submitted'],
      [{ p_other: 3 }, 'body/input_values/p_submitted'],
    ] as const) {
      const body = expectError(await post(app, '/counterfactual', { ...base, input_values, target_transition: 't_approve' }), 422, 'missing_flip_value', path);
      expect(body.message).toMatch(/flip_channel 'value' varies input_values\["p_submitted"\]/);
    }
  });

  it('refuses malformed requests with 400', async () => {
    expectError(await post(app, '/counterfactual', { ...base, target_transition: 't_approve', search_range: [5000, 0] }), 400, 'invalid_search_range', 'body/search_range');
    expectError(await post(app, '/counterfactual', { ...base, target_transition: 't_approve', search_range: [0] }), 400, 'validation_error', 'body/search_range');
    expectError(await post(app, '/counterfactual', { ...base, target_transition: 't_approve', search_range: [0, 1, 2] }), 400, 'validation_error', 'body/search_range');
    expectError(await post(app, '/counterfactual', { ...base, target_transition: 't_approve', search_range: [0, 1e39] }), 400, 'invalid_input', 'body/search_range/1');
    expectError(await post(app, '/counterfactual', { ...base, target_transition: 't_approve', search_range: [0, 'lots'] }), 400, 'invalid_input', 'body/search_range/1');
    expectError(await post(app, '/counterfactual', { ...base, target_transition: 't_approve', tolerance: -1 }), 400, 'invalid_input', 'body/tolerance');
    expectError(await post(app, '/counterfactual', { ...base, target_transition: 't_approve', tolerance: '-1' }), 400, 'invalid_input', 'body/tolerance');
    expectError(await post(app, '/counterfactual', { ...base, target_transition: 't_approve', tolerance: 'nan' }), 400, 'invalid_input', 'body/tolerance');
    expectError(await post(app, '/counterfactual', { ...base, target_transition: 't_approve', tolerance: null }), 400, 'validation_error', 'body/tolerance');
    expectError(await post(app, '/counterfactual', { ...base, target_transition: 't_approve', flip_channel: 'token' }), 400, 'validation_error', 'body/flip_channel');
    expectError(await post(app, '/counterfactual', { ...base, target_transition: 't_approve', nearest: 'yes' }), 400, 'validation_error', 'body/nearest');
    expectError(await post(app, '/counterfactual', { input_marking: {}, target_transition: 't_approve' }), 400, 'validation_error', 'body/flip_place');
    expectError(await post(app, '/counterfactual', { flip_place: 'p_submitted', target_transition: 't_approve' }), 400, 'validation_error', 'body/input_marking');
    expectError(await post(app, '/counterfactual', { ...base, input_values: { p_submitted: 'lots' }, target_transition: 't_approve' }), 400, 'invalid_input', 'body/input_values/p_submitted');
  });

  it('takes search_range and tolerance as PETRA\'s pydantic model does: numeric strings and booleans too, as in input_marking', async () => {
    const request = { ...base, target_transition: 't_approve' };
    const asNumbers = await counterfactual(app, { ...request, search_range: [0, 5000], tolerance: 1e-4 });
    expect(asNumbers.found).toBe(true);
    expect(await counterfactual(app, { ...request, search_range: ['0', ' 5_000 '], tolerance: '1e-4' })).toEqual(asNumbers);
    const unit = await counterfactual(app, { ...request, flip_channel: 'marking', search_range: [0, 1], tolerance: 1 });
    expect(await counterfactual(app, { ...request, flip_channel: 'marking', search_range: [false, true], tolerance: true })).toEqual(unit);
    // Float32's largest value as numpy prints it: fed as that value, as it is in input_marking.
    const widest = await counterfactual(app, { ...request, search_range: [0, 3.4028235e38] });
    expect(widest.search.grid_points).toBe(513);
  });

  it('refuses a field it does not know (PETRA ignores it), naming the ones there are: a misspelt search_range would search [0, 1]', async () => {
    const body = expectError(await post(app, '/counterfactual', { ...base, target_transition: 't_approve', searchRange: [0, 10000] }), 400, 'validation_error', 'body/searchRange');
    expect(body.message).toBe('body/searchRange: Unknown field; the fields are input_marking, input_values, flip_place, target_transition, flip_channel, search_range, tolerance, nearest');
    const sensitivity = expectError(await post(app, '/sensitivity', { input_marking: {}, target_transition: 't_approve', All: true }), 400, 'validation_error', 'body/All');
    expect(sensitivity.message).toBe('body/All: Unknown field; the fields are input_marking, input_values, target_transition, all');
  });
});

describe('POST /counterfactual on onnx_deployment (marking channel)', () => {
  let app: App;

  beforeAll(async () => {
    app = await testApp({ bundle: modelPath('onnx_deployment') });
  });
  afterAll(async () => app.close());

  it('finds the marking where the target crosses 0.5, and a forward pass there agrees within tolerance', async () => {
    for (const target of ['t_approve', 't_decline']) {
      for (const tolerance of [1e-3, 1e-4]) {
        const cf = await counterfactual(app, { input_marking: { p_application: 0.9 }, flip_place: 'p_application', target_transition: target, tolerance });
        expect(cf).toMatchObject({ found: true, flipped_channel: 'marking', original_input: 0.9, fed_input: Math.fround(0.9) });
        expect(cf.original_activation).toBe(await forwardActivation(app, target, { p_application: 0.9 }));
        const there = await forwardActivation(app, target, { p_application: cf.counterfactual_input! });
        expect(there).toBe(cf.counterfactual_activation);
        expect(Math.abs(there - 0.5)).toBeLessThan(tolerance);
        expect(cf.search.within_tolerance).toBe(true);
      }
    }
  });

  it('says whether the answer flips the decision: PETRA\'s midpoint within tolerance may lie a hair on the original side', async () => {
    const short = await counterfactual(app, { input_marking: { p_application: 0.1 }, flip_place: 'p_application', target_transition: 't_decline' });
    expect(short.found).toBe(true);
    expect(short.original_activation!).toBeGreaterThan(0.5);
    const there = await forwardActivation(app, 't_decline', { p_application: short.counterfactual_input! });
    expect(short.search.flips_decision).toBe(there < 0.5);
    let flipping = 0;
    for (const target of ['t_approve', 't_decline']) {
      for (const start of [0.05, 0.1, 0.3, 0.7, 0.9, 0.95]) {
        for (const tolerance of [1e-2, 1e-3, 1e-5]) {
          const cf = await counterfactual(app, { input_marking: { p_application: start }, flip_place: 'p_application', target_transition: target, tolerance });
          const after = await forwardActivation(app, target, { p_application: cf.counterfactual_input! });
          expect(cf.search.flips_decision, `${target} from ${start}, tolerance ${tolerance}`).toBe(cf.original_activation! > 0.5 !== after > 0.5);
          if (cf.search.flips_decision) flipping++;
        }
      }
    }
    // Both answers occur: some midpoints land beyond 0.5, some short of it.
    expect(flipping).toBeGreaterThan(0);
    expect(flipping).toBeLessThan(36);
  });

  it('says when PETRA\'s interval rule, not the tolerance, ended the search: on a wide range far from the crossing', async () => {
    const wide = await counterfactual(app, { input_marking: { p_application: 0.9 }, flip_place: 'p_application', target_transition: 't_approve', search_range: [-1e6, 1e6] });
    expect(wide.found).toBe(true);
    expect(Math.abs(wide.counterfactual_activation! - 0.5)).toBeGreaterThan(1e-3);
    expect(wide.search.within_tolerance).toBe(false);
    expect(wide.search.iterations).toBeLessThan(50);
    const none = await counterfactual(app, { input_marking: { p_application: 0.9 }, flip_place: 'p_application', target_transition: 't_approve', search_range: [0.8, 1] });
    expect(none).toMatchObject({ found: false, search: { within_tolerance: false, flips_decision: false } });
  });

  it("reports PETRA's literal original_input 0.0 for an omitted place, and the default it was fed as fed_input", async () => {
    const cf = await counterfactual(app, { input_marking: {}, flip_place: 'p_application', target_transition: 't_approve' });
    expect(cf).toMatchObject({ found: true, original_input: 0, fed_input: 1 });
    expect(cf.original_activation).toBe(await forwardActivation(app, 't_approve', { p_application: 1 }));
  });

  it('uses PETRA’s defaults: marking channel, range [0, 1], tolerance 1e-3', async () => {
    const implicit = await counterfactual(app, { input_marking: { p_application: 0.2 }, flip_place: 'p_application', target_transition: 't_approve' });
    const explicit = await counterfactual(app, { input_marking: { p_application: 0.2 }, input_values: null, flip_place: 'p_application', target_transition: 't_approve', flip_channel: 'marking', search_range: [0, 1], tolerance: 1e-3, nearest: false });
    expect(implicit).toEqual(explicit);
  });

  it('answers 422 for the value channel, which this model has no input on', async () => {
    const body = expectError(await post(app, '/counterfactual', { input_marking: {}, input_values: { p_application: 1 }, flip_place: 'p_application', flip_channel: 'value', target_transition: 't_approve' }), 422, 'place_not_flippable');
    expect(body.message).toMatch(/no place is flippable on that channel/);
  });

  it('lists the flippable places in GET /schema', async () => {
    const response = await app.inject({ method: 'GET', url: '/schema' });
    expect(response.json().flippable_places).toEqual({ marking: ['p_application'], value: [] });
  });
});

describe('POST /counterfactual and /sensitivity for a transition that is no ONNX output', () => {
  let app: App;

  beforeAll(async () => {
    const bundle = copyBundle('credit_approval_coloured');
    editSidecar(bundle, (s) => {
      (s.transition_labels as Record<string, string>).t_route = 'p_submitted->p_review';
    });
    app = await testApp({ bundle: bundle.model });
  });
  afterAll(async () => {
    await app.close();
    removeTempDirs();
  });

  it('answers 422 transition_not_output', async () => {
    let body = expectError(await post(app, '/counterfactual', { input_marking: {}, flip_place: 'p_submitted', target_transition: 't_route' }), 422, 'transition_not_output', 'body/target_transition');
    expect(body.message).toMatch(/target_transition 't_route' is a transition of the net but no output of the ONNX graph.*outputs: t_approve, t_decline/);
    body = expectError(await post(app, '/sensitivity', { input_marking: {}, target_transition: 't_route' }), 422, 'transition_not_output', 'body/target_transition');
    expect(body.message).toMatch(/'t_route' is a transition of the net but no output/);
  });
});
