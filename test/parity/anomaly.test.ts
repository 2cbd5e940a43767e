import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import type { App } from '../../src/app.js';
import { testApp } from '../helpers/app.js';
import { BUNDLES, modelPath, readFixture, type AnomalyCase } from '../helpers/fixtures.js';
import { expectScoreClose } from '../helpers/tolerance.js';

describe.each(BUNDLES)('PETRA parity of /anomaly on %s', (bundle) => {
  let app: App;
  const cases = readFixture<AnomalyCase[]>(bundle, 'anomaly_cases.json');
  const body = (c: AnomalyCase) => ({ input_marking: c.input_marking, input_values: c.input_values, events: c.events, attributes: c.attributes });

  beforeAll(async () => {
    app = await testApp({ bundle: modelPath(bundle) });
  });
  afterAll(async () => app?.close());

  it(`scores all ${cases.length} anomaly cases one request at a time`, async () => {
    for (const c of cases) {
      const response = await app.inject({ method: 'POST', url: '/anomaly', payload: body(c) });
      expect(response.statusCode, `${c.id}: ${response.body}`).toBe(200);
      expectScoreClose(response.json(), c.expected, c.id);
    }
  });

  it('scores the same cases concurrently (shared inference runs)', async () => {
    const responses = await Promise.all(cases.map((c) => app.inject({ method: 'POST', url: '/anomaly', payload: body(c) })));
    responses.forEach((response, i) => expectScoreClose(response.json(), cases[i]!.expected, cases[i]!.id));
  });

  it('scores them all in one /anomaly/batch request, in input order', async () => {
    const response = await app.inject({ method: 'POST', url: '/anomaly/batch', payload: { traces: cases.map(body) } });
    expect(response.statusCode).toBe(200);
    const { results, scored, errors } = response.json() as { results: { index: number; trace_score: number; per_transition_residuals: Record<string, number> }[]; scored: number; errors: number };
    expect({ scored, errors }).toEqual({ scored: cases.length, errors: 0 });
    results.forEach((result, i) => {
      expect(result.index).toBe(i);
      expectScoreClose(result, cases[i]!.expected, cases[i]!.id);
    });
  });
});
