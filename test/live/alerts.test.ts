import { afterEach, describe, expect, it } from 'vitest';
import type { App, AppConfig } from '../../src/app.js';
import type { AlertEvent, BusEvent, EvaluationEvent } from '../../src/live/events.js';
import { testApp } from '../helpers/app.js';
import { modelPath, readFixture, type AnomalyCase } from '../helpers/fixtures.js';
import { logEvents, manifest } from './helpers.js';

let apps: App[] = [];

async function app(bundle: string, overrides: Partial<AppConfig> = {}): Promise<App> {
  const created = await testApp({ bundle: modelPath(bundle), liveStatsIntervalMs: 0, ...overrides });
  apps.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(apps.map((a) => a.close()));
  apps = [];
});

/** Every bus event still in the ring, oldest first. */
function published(target: App): BusEvent[] {
  const ring = target.live.bus.ring;
  const events: BusEvent[] = [];
  for (let id = ring.oldestId; id <= ring.latestId; id++) events.push(ring.get(id)!.event);
  return events;
}

function alertsOf(target: App, caseId: string): AlertEvent[] {
  return published(target).filter((e): e is AlertEvent => e.type === 'alert' && e.case_id === caseId);
}

/** Streams one case of a fixture log through POST /events (unscored), then closes it. */
async function streamAndClose(target: App, bundle: string, caseId: string): Promise<void> {
  const events = logEvents(bundle).filter((e) => e.case_id === caseId);
  expect(events.length).toBeGreaterThan(0);
  const fed = await target.inject({ method: 'POST', url: '/events', payload: { events } });
  expect(fed.statusCode, fed.body).toBe(200);
  const closed = await target.inject({ method: 'POST', url: `/cases/${caseId}/close` });
  expect(closed.statusCode, closed.body).toBe(200);
}

describe('alerts and their explanations', () => {
  it('compliance_audit C025 (anomalous in the log manifest): "expected close declined, never observed", and nothing else', async () => {
    expect(manifest('compliance_audit').find((m) => m.case_id === 'C025')?.kind).toBe('anomalous');
    const target = await app('compliance_audit');
    await streamAndClose(target, 'compliance_audit', 'C025');
    const [alert, ...more] = alertsOf(target, 'C025');
    expect(more).toEqual([]);
    expect(alert).toMatchObject({ source: 'case_close', closed: true, n_events: 2, threshold: 0.5, lane: 'compliance_audit' });
    expect(alert!.explanation.map((i) => [i.id, i.label, i.kind, i.observed])).toEqual([['t_close_declined', 'close declined', 'missing', 0]]);
    const [item] = alert!.explanation;
    expect(item!.expected).toBeGreaterThan(0.99);
    expect(item!.expected).toBe(item!.residual);
    expect(item!.text).toBe('expected close declined (>0.99), never observed');
    expect(alert!.summary).toBe(`C025 scored ${alert!.trace_score.toFixed(2)} (alert threshold 0.5): expected close declined (>0.99), never observed`);

    // The evaluation it came from is flagged, and its top transition is the same one.
    const evaluation = published(target).find((e): e is EvaluationEvent => e.id === alert!.evaluation_id)!;
    expect(evaluation).toMatchObject({ type: 'evaluation', case_id: 'C025', alert: true, closed: true });
    expect(evaluation.top[0]).toMatchObject({ id: 't_close_declined', label: 'close declined' });
    expect(evaluation.top.length).toBe(3);
    expect(evaluation.top[0]!.residual).toBeGreaterThanOrEqual(evaluation.top[1]!.residual);
    expect(evaluation.top[1]!.residual).toBeGreaterThanOrEqual(evaluation.top[2]!.residual);
  });

  it('onnx_deployment C030 (anomalous): the opposite case, "observed decline loan, not expected"', async () => {
    expect(manifest('onnx_deployment').find((m) => m.case_id === 'C030')?.kind).toBe('anomalous');
    const target = await app('onnx_deployment');
    await streamAndClose(target, 'onnx_deployment', 'C030');
    const [alert] = alertsOf(target, 'C030');
    expect(alert!.explanation.map((i) => [i.label, i.kind, i.observed])).toEqual([['decline loan', 'unexpected', 1]]);
    expect(alert!.explanation[0]!.expected).toBeLessThan(0.01);
    expect(alert!.explanation[0]!.text).toMatch(/^observed decline loan, not expected \(<?0\.\d\d\)$/);
  });

  it('the anomaly fixtures: a dropped event is missing, an extra one unexpected; activations equal /forward', async () => {
    const target = await app('compliance_audit');
    const cases = readFixture<AnomalyCase[]>('compliance_audit', 'anomaly_cases.json');
    const byTag = (tag: string) => cases.find((c) => c.tag === tag)!;
    for (const [tag, expected] of [
      ['canon[0]_drop[2]', [['write audit log', 'missing']]],
      ['canon[0]_extra_event', [['decline', 'unexpected']]],
    ] as const) {
      const c = byTag(tag);
      const response = await target.inject({ method: 'POST', url: '/anomaly', headers: { 'x-request-id': tag }, payload: { input_marking: c.input_marking, events: c.events } });
      expect(response.statusCode).toBe(200);
      const [alert] = alertsOf(target, tag);
      expect(alert, tag).toBeDefined();
      expect(alert!.source).toBe('anomaly');
      expect(alert!.explanation.map((i) => [i.label, i.kind])).toEqual(expected);

      // activation = residual (unobserved) or 1 − residual (observed), exactly what the network said.
      const forward = await target.inject({ method: 'POST', url: '/forward', payload: { input_marking: c.input_marking } });
      const activations = forward.json<{ transition_activations: Record<string, number> }>().transition_activations;
      const evaluation = published(target).find((e): e is EvaluationEvent => e.id === alert!.evaluation_id)!;
      for (const top of evaluation.top) expect(Math.abs(top.activation - activations[top.id]!)).toBeLessThan(1e-7);
      for (const item of alert!.explanation) expect(Math.abs(item.expected - activations[item.id]!)).toBeLessThan(1e-7);
    }
  });

  it('an open case alerts once per distinct anomaly, however often it is re-scored, and again when the anomaly changes', async () => {
    const target = await app('onnx_deployment', { scoreEveryEvent: true });
    const post = (name: string) => target.inject({ method: 'POST', url: '/cases/k/events', payload: { name, attributes: { risk_score: '0.9' } } });
    await post('unrelated');
    await post('still unrelated');
    await target.inject({ method: 'GET', url: '/cases/k' });
    expect(alertsOf(target, 'k').map((a) => a.explanation.map((i) => i.label))).toEqual([['approve loan']]);
    const flagged = published(target).filter((e) => e.type === 'evaluation' && e.case_id === 'k' && e.alert === true);
    expect(flagged.length).toBe(3);
    await post('decline loan'); // now both: approve missing and decline unexpected
    await post('approve loan'); // approve seen: only decline unexpected
    expect(alertsOf(target, 'k').map((a) => a.explanation.map((i) => `${i.label}:${i.kind}`))).toEqual([
      ['approve loan:missing'],
      ['approve loan:missing', 'decline loan:unexpected'],
      ['decline loan:unexpected'],
    ]);
    const metrics = (await target.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^petrascore_alerts_total 3$/m);
  });

  it('per-lane thresholds, the explanation floor, and stateless lanes from trace or event attributes', async () => {
    const target = await app('onnx_deployment', { laneAttribute: 'queue', alertLaneThresholds: ['calm=5', 'odd=lane=0.1'], alertExplanationFloor: 0.0001 });
    const anomalous = { input_marking: { p_application: 0.9 }, events: [] as { name: string; attributes?: Record<string, string> }[] };
    await target.inject({ method: 'POST', url: '/anomaly', headers: { 'x-request-id': 'calm-1' }, payload: { ...anomalous, attributes: { queue: 'calm' } } });
    await target.inject({ method: 'POST', url: '/anomaly', headers: { 'x-request-id': 'busy-1' }, payload: { ...anomalous, events: [{ name: 'x', attributes: { queue: 'busy' } }] } });
    await target.inject({ method: 'POST', url: '/anomaly', headers: { 'x-request-id': 'none-1' }, payload: anomalous });
    const evaluations = published(target).filter((e): e is EvaluationEvent => e.type === 'evaluation');
    expect(evaluations.map((e) => [e.case_id, e.lane, e.alert ?? false])).toEqual([
      ['calm-1', 'calm', false],
      ['busy-1', 'busy', true],
      ['none-1', '(no queue)', true],
    ]);
    // With a floor of 0.0001 even the tiny decline residual (4e-4) is explained.
    expect(alertsOf(target, 'busy-1')[0]!.explanation.map((i) => i.label)).toEqual(['approve loan', 'decline loan']);
    const snapshot = target.live.snapshot();
    expect(snapshot.lane_thresholds).toEqual({ calm: 5, 'odd=lane': 0.1 });
    expect(snapshot.stateless.map((l) => l.lane)).toEqual(['calm', 'busy', '(no queue)']);
  });

  it('cuts a lane value beyond 128 characters between characters, never inside one, and a lane filter finds it', async () => {
    const target = await app('onnx_deployment', { laneAttribute: 'queue' });
    // An emoji (two UTF-16 units) across the cut at 127.
    const queue = `${'q'.repeat(126)}😀 and more`;
    const opened = await target.inject({ method: 'POST', url: '/cases/long-lane/events', payload: { name: 'approve loan', attributes: { risk_score: '0.9', queue } } });
    expect(opened.statusCode, opened.body).toBe(202);
    const [event] = published(target);
    expect(event).toMatchObject({ type: 'case_opened', lane: `${'q'.repeat(126)}…` });
    const lane = (event as { lane: string }).lane;
    const snapshot = await target.inject({ method: 'GET', url: `/live/snapshot?lane=${encodeURIComponent(lane)}` });
    expect(snapshot.statusCode, snapshot.body).toBe(200);
    expect((snapshot.json() as { cases: { case_id: string }[] }).cases.map((c) => c.case_id)).toEqual(['long-lane']);
  });

  it('the snapshot keeps the last 60 scores of a lane and of a case, oldest first', async () => {
    const target = await app('onnx_deployment');
    const markings = Array.from({ length: 75 }, (_, i) => (i + 1) / 76);
    const traces = markings.map((p) => ({ input_marking: { p_application: p }, events: [{ name: 'approve loan' }] }));
    const batch = await target.inject({ method: 'POST', url: '/anomaly/batch', payload: { traces } });
    const scores = (batch.json() as { results: { trace_score: number }[] }).results.map((r) => r.trace_score);
    expect(target.live.snapshot().stateless[0]!.recent_scores).toEqual(scores.slice(-60));

    const caseScores: number[] = [];
    for (let i = 0; i < 64; i++) {
      const event = await target.inject({ method: 'POST', url: '/cases/c-60/events?score=true', payload: { name: i % 2 === 0 ? 'approve loan' : 'x', attributes: { risk_score: String(markings[i]) } } });
      caseScores.push((event.json() as { trace_score: number }).trace_score);
    }
    const row = target.live.snapshot({ caseId: 'c-60' }).cases[0]!;
    expect(row.recent_scores).toEqual(caseScores.slice(-60));
  });

  it('/anomaly/batch items are evaluations under <request id>/<index>; bad items are not', async () => {
    const target = await app('onnx_deployment');
    const response = await target.inject({
      method: 'POST',
      url: '/anomaly/batch',
      headers: { 'x-request-id': 'b' },
      payload: { traces: [{ input_marking: { p_application: 0.9 }, events: [{ name: 'approve loan' }] }, { events: 'nope' }, { input_marking: { p_application: 0.9 }, events: [] }] },
    });
    expect(response.statusCode).toBe(200);
    const evaluations = published(target).filter((e): e is EvaluationEvent => e.type === 'evaluation');
    expect(evaluations.map((e) => [e.case_id, e.source, e.n_events, e.alert ?? false])).toEqual([
      ['b/0', 'anomaly_batch', 1, false],
      ['b/2', 'anomaly_batch', 0, true],
    ]);
    expect(alertsOf(target, 'b/2').length).toBe(1);
  });
});
