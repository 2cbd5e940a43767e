import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { testApp } from '../helpers/app.js';
import { modelPath, readFixture } from '../helpers/fixtures.js';

describe('GET /healthz and GET /schema carry what PETRA says of the net', () => {
  let app: App;
  const sidecar = readFixture<{ places: string[]; transition_labels: Record<string, string>; output_transitions: string[] }>('credit_approval_coloured', 'model.onnx.meta.json');
  beforeAll(async () => {
    app = await testApp({ bundle: modelPath('credit_approval_coloured') });
  });
  afterAll(async () => app.close());

  it('healthz: status, version and the net size', async () => {
    const body = (await app.inject({ method: 'GET', url: '/healthz' })).json();
    expect(body).toMatchObject({ status: 'ok', n_places: sidecar.places.length, n_transitions: Object.keys(sidecar.transition_labels).length });
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('schema: places, labels, scored transitions, inputs with defaults and specs, guards', async () => {
    const body = (await app.inject({ method: 'GET', url: '/schema' })).json();
    expect(body.places).toEqual([...sidecar.places].sort());
    expect(body.transitions).toEqual(sidecar.transition_labels);
    expect(body.scored_transitions).toEqual(sidecar.output_transitions);
    expect(body.inputs.values).toEqual([{ name: 'value__p_submitted', place: 'p_submitted', default: 1, spec: { attribute: 'amount' } }]);
    expect(body.has_structural_guards).toBe(true);
    expect(body.has_silent_transitions).toBe(false);
  });
});

describe('POST /anomaly without input_marking on a coloured net: the value channel from the attributes', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ bundle: modelPath('credit_approval_coloured') });
  });
  afterAll(async () => app.close());

  const score = async (extra: Record<string, unknown>) => {
    const response = await app.inject({ method: 'POST', url: '/anomaly', payload: { events: [{ name: 'approve loan' }], attributes: { amount: '5000' }, ...extra } });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ trace_score: number }>().trace_score;
  };

  it('reads input_values: null as omitted (the values from the attributes) and {} as the defaults', async () => {
    const derived = await score({});
    const explicit = await score({ input_values: { p_submitted: 5000 } });
    const defaults = await score({ input_values: { p_submitted: 1 } });
    expect(derived).toBe(explicit);
    expect(derived).not.toBe(defaults);
    expect(await score({ input_values: null })).toBe(derived);
    expect(await score({ input_values: {} })).toBe(defaults);
  });

  it('reads input_marking: null as omitted (Jackson writes an unset field as null): marking and values from the attributes', async () => {
    const derived = await score({});
    expect(await score({ input_marking: null })).toBe(derived);
    expect(await score({ input_marking: null, input_values: null })).toBe(derived);
    expect(await score({ input_marking: {} })).not.toBe(derived);
    const batch = await app.inject({ method: 'POST', url: '/anomaly/batch', payload: { traces: [{ input_marking: null, events: [{ name: 'approve loan' }], attributes: { amount: '5000' } }] } });
    expect(batch.json<{ results: { trace_score: number }[] }>().results[0]!.trace_score).toBe(derived);
  });
});
