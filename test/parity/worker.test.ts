import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { testApp } from '../helpers/app.js';
import { modelPath, readFixture, type AnomalyCase } from '../helpers/fixtures.js';
import { expectScoreClose } from '../helpers/tolerance.js';

describe.each(['credit_approval_coloured', 'scale_200'])('--inference-thread worker gives PETRA parity on %s', (bundle) => {
  let app: App;
  const cases = readFixture<AnomalyCase[]>(bundle, 'anomaly_cases.json');
  beforeAll(async () => {
    app = await testApp({ bundle: modelPath(bundle), inferenceThread: 'worker' });
  });
  afterAll(async () => app.close());

  it('scores every anomaly case, one by one and concurrently', async () => {
    const body = (c: AnomalyCase) => ({ input_marking: c.input_marking, input_values: c.input_values, events: c.events, attributes: c.attributes });
    const responses = await Promise.all(cases.map((c) => app.inject({ method: 'POST', url: '/anomaly', payload: body(c) })));
    responses.forEach((response, i) => {
      expect(response.statusCode, response.body).toBe(200);
      expectScoreClose(response.json(), cases[i]!.expected, cases[i]!.id);
    });
  });
});
