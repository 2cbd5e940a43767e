import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { compareCodePoints } from '../../src/scoring/net.js';
import { testApp } from '../helpers/app.js';
import { modelPath, readFixture } from '../helpers/fixtures.js';

/**
 * /anomaly and /anomaly/batch write their answers from the output rows (src/http/score-json.ts) instead of through the
 * generic schema serialiser: the bytes must be what JSON.stringify would write for the same object, in schema order.
 */
describe.each(['onnx_deployment', 'scale_200'])('score responses written from output rows (%s)', (bundle) => {
  let app: App;
  const sidecar = readFixture<{
    output_transitions: string[];
    transition_labels: Record<string, string>;
    input_marking_places: string[];
    input_marking_spec: Record<string, { attribute?: string }>;
    input_values_spec: Record<string, { attribute?: string }>;
  }>(bundle, 'model.onnx.meta.json');
  /** Every attribute the bundle's specs read, so a case can be scored from its attributes. */
  const attributes = Object.fromEntries(
    [...Object.values(sidecar.input_marking_spec), ...Object.values(sidecar.input_values_spec)].flatMap((spec) => (spec.attribute === undefined ? [] : [[spec.attribute, '0.5']])),
  );
  const labels = sidecar.output_transitions.map((t) => sidecar.transition_labels[t] ?? t);
  /** Whether a case without attributes cannot be scored (a spec reads one). */
  const sidecarReads = () => Object.keys(attributes).length > 0;
  const place = sidecar.input_marking_places[0]!;
  beforeAll(async () => {
    app = await testApp({ bundle: modelPath(bundle) });
  });
  afterAll(async () => app.close());

  const trace = (m: number, extra: Record<string, unknown> = {}) => ({ input_marking: { [place]: m, ...extra }, events: labels.slice(0, 3).map((name) => ({ name })) });

  it('/anomaly: compact JSON, fields in schema order, residuals in sorted-id order, trace_score their sum', async () => {
    for (const body of [trace(0.3), trace(0.9, { no_such_place: 1 })]) {
      const response = await app.inject({ method: 'POST', url: '/anomaly', payload: body });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      const parsed = response.json<{ trace_score: number; per_transition_residuals: Record<string, number>; ignored_inputs?: string[] }>();
      expect(response.body).toBe(JSON.stringify(parsed));
      expect(Object.keys(parsed)).toEqual(body.input_marking.no_such_place === undefined ? ['trace_score', 'per_transition_residuals'] : ['trace_score', 'per_transition_residuals', 'ignored_inputs']);
      const ids = Object.keys(parsed.per_transition_residuals);
      expect(ids).toEqual([...sidecar.output_transitions].sort(compareCodePoints));
      const sum = ids.reduce((total, id) => total + parsed.per_transition_residuals[id]!, 0);
      expect(parsed.trace_score).toBe(sum);
    }
  });

  it('case evaluations: compact JSON in schema order, the same score as /anomaly gives the same trace', async () => {
    const caseId = `json/${bundle}`;
    const names = labels.slice(0, 3);
    let scored: { statusCode: number; body: string; headers: Record<string, unknown> } | undefined;
    for (const name of names) scored = await app.inject({ method: 'POST', url: `/cases/${encodeURIComponent(caseId)}/events?score=true`, payload: { name, attributes } });
    for (const response of [scored!, await app.inject({ method: 'GET', url: `/cases/${encodeURIComponent(caseId)}` }), await app.inject({ method: 'POST', url: `/cases/${encodeURIComponent(caseId)}/close` })]) {
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      const parsed = JSON.parse(response.body) as Record<string, unknown>;
      expect(response.body).toBe(JSON.stringify(parsed));
      expect(Object.keys(parsed)).toEqual(['case_id', 'n_events', 'trace_score', 'per_transition_residuals', 'closed']);
      expect(parsed.case_id).toBe(caseId);
      const stateless = await app.inject({ method: 'POST', url: '/anomaly', payload: { events: names.map((name) => ({ name })), attributes } });
      expect(stateless.statusCode).toBe(200);
      expect(parsed.per_transition_residuals).toEqual(stateless.json().per_transition_residuals);
      expect(parsed.trace_score).toBe(stateless.json().trace_score);
    }
  });

  it('POST /events: compact JSON, each evaluation as the single-event route writes it, then its reopened', async () => {
    const caseId = `stream-json/${bundle}`;
    const single = await app.inject({ method: 'POST', url: `/cases/${encodeURIComponent(`${caseId}-single`)}/events?score=true`, payload: { name: labels[0], attributes } });
    expect(single.statusCode).toBe(200);
    await app.inject({ method: 'POST', url: `/cases/${encodeURIComponent(`${caseId}-gone`)}/events`, payload: { name: labels[0] } });
    expect((await app.inject({ method: 'DELETE', url: `/cases/${encodeURIComponent(`${caseId}-gone`)}` })).statusCode).toBe(200);
    const events = [
      { case_id: caseId, name: labels[0]!, attributes },
      { case_id: `${caseId}-unscorable`, name: labels[0]! },
      { case_id: `${caseId}-gone`, name: labels[0]!, attributes },
    ];
    const response = await app.inject({ method: 'POST', url: '/events?score=true', payload: { events } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    const parsed = response.json<{ accepted: number; results: Record<string, unknown>[] }>();
    expect(response.body).toBe(JSON.stringify(parsed));
    expect(Object.keys(parsed)).toEqual(['accepted', 'results']);
    const scored = parsed.results[0]!;
    expect(Object.keys(scored)).toEqual(['case_id', 'n_events', 'trace_score', 'per_transition_residuals', 'closed']);
    // The same bytes as POST /cases/{id}/events wrote for the same event, but for the case id.
    expect(JSON.stringify(scored).replace(JSON.stringify(caseId), JSON.stringify(`${caseId}-single`))).toBe(single.body);
    expect(Object.keys(parsed.results[1]!)).toEqual(sidecarReads() ? ['case_id', 'n_events', 'not_scored'] : ['case_id', 'n_events', 'trace_score', 'per_transition_residuals', 'closed']);
    expect(Object.keys(parsed.results[2]!)).toEqual(['case_id', 'n_events', 'trace_score', 'per_transition_residuals', 'closed', 'reopened']);
    expect(parsed.results[2]!.reopened).toBe('deleted');
  });

  it('/anomaly/batch: compact JSON, results in input order, error items as /anomaly would answer them', async () => {
    const traces = [trace(0.2), { events: 'not a list' }, trace(0.8, { no_such_place: 1 })];
    const response = await app.inject({ method: 'POST', url: '/anomaly/batch', payload: { traces } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    const parsed = response.json<{ results: Record<string, unknown>[]; scored: number; errors: number }>();
    expect(response.body).toBe(JSON.stringify(parsed));
    expect(Object.keys(parsed)).toEqual(['results', 'scored', 'errors']);
    expect([parsed.scored, parsed.errors]).toEqual([2, 1]);
    expect(parsed.results.map((r) => Object.keys(r))).toEqual([
      ['index', 'trace_score', 'per_transition_residuals'],
      ['index', 'error'],
      ['index', 'trace_score', 'per_transition_residuals', 'ignored_inputs'],
    ]);
    const alone = await app.inject({ method: 'POST', url: '/anomaly', payload: traces[1] });
    const error = alone.json<{ error: string; message: string; details: { path: string; message: string }[] }>();
    expect(parsed.results[1]!.error).toEqual({
      ...error,
      message: error.message.replace(/^body/, 'body/traces/1'),
      details: error.details.map((d) => ({ ...d, path: d.path.replace(/^body/, 'body/traces/1') })),
    });
    for (const index of [0, 2]) {
      const single = await app.inject({ method: 'POST', url: '/anomaly', payload: traces[index] });
      expect({ index, ...single.json() }).toEqual(parsed.results[index]);
    }
  });
});

/**
 * A net whose transition ids are integers ("10", "9": PETRA's sorted order, so the graph's output order): an object
 * built from them lists "9" first, as JavaScript puts integer-like keys before the others, so /forward's activations
 * came in another order than its schema's "in output order" and GET /schema's scored_transitions, and a client that
 * pairs them up (Python keeps the order it reads) took one transition's activation for the other's.
 */
describe('/forward on a net whose transition ids are integers', () => {
  let app: App;
  let reference: App;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'petrascore-integer-ids-'));
    copyFileSync(modelPath('onnx_deployment'), join(dir, 'model.onnx'));
    const sidecar = JSON.stringify(readFixture<object>('onnx_deployment', 'model.onnx.meta.json'));
    writeFileSync(join(dir, 'model.onnx.meta.json'), sidecar.replaceAll('"t_approve"', '"10"').replaceAll('"t_decline"', '"9"'));
    app = await testApp({ bundle: join(dir, 'model.onnx') });
    reference = await testApp({ bundle: modelPath('onnx_deployment') });
  });
  afterAll(async () => {
    await app?.close();
    await reference?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the activations in output order, each under its own id', async () => {
    expect((await app.inject({ method: 'GET', url: '/schema' })).json<{ scored_transitions: string[] }>().scored_transitions).toEqual(['10', '9']);
    const payload = { input_marking: { p_application: 0.3, nowhere: 1 } };
    const response = await app.inject({ method: 'POST', url: '/forward', payload });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect([...response.body.matchAll(/"(\d+)":/g)].map((m) => m[1])).toEqual(['10', '9']);
    const expected = (await reference.inject({ method: 'POST', url: '/forward', payload })).json<{ transition_activations: Record<string, number>; ignored_inputs: string[] }>();
    expect(response.json()).toEqual({ transition_activations: { '10': expected.transition_activations.t_approve, '9': expected.transition_activations.t_decline }, ignored_inputs: ['/input_marking/nowhere'] });
  });

  it('answers a POST /events evaluation with its residuals in sorted-id order, as every other scoring route does', async () => {
    const event = { name: 'approve loan', attributes: { risk_score: '0.3' } };
    const single = await app.inject({ method: 'POST', url: '/cases/alone/events?score=true', payload: event });
    const batch = await app.inject({ method: 'POST', url: '/events?score=true', payload: { events: [{ case_id: 'alone', ...event }] } });
    expect(batch.statusCode).toBe(200);
    const residuals = (body: string) => [...body.slice(body.indexOf('"per_transition_residuals"')).matchAll(/"(\d+)":/g)].map((m) => m[1]);
    expect(residuals(single.body)).toEqual(['10', '9']);
    expect(residuals(batch.body)).toEqual(['10', '9']);
  });

  it('writes the default bundle\'s answer as JSON.stringify would, fields in schema order', async () => {
    for (const payload of [{ input_marking: { p_application: 0.3 } }, { input_marking: { nowhere: 1 }, extra: true }]) {
      const response = await reference.inject({ method: 'POST', url: '/forward', payload });
      expect(response.body).toBe(JSON.stringify(response.json()));
    }
  });
});
