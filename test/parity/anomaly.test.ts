import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import type { App } from '../../src/app.js';
import { testApp } from '../helpers/app.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLES, FIXTURES, modelPath, readFixture, type AnomalyCase, type EdgeCase } from '../helpers/fixtures.js';
import { expectScoreClose } from '../helpers/tolerance.js';

/** A fixture case as the /anomaly body PETRA was sent. */
const body = (c: AnomalyCase) => ({ input_marking: c.input_marking, input_values: c.input_values, events: c.events, attributes: c.attributes });

describe.each(BUNDLES)('PETRA parity of /anomaly on %s', (bundle) => {
  let app: App;
  const cases = readFixture<AnomalyCase[]>(bundle, 'anomaly_cases.json');

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

/** The bundles PETRA exported torch-only edge cases for (all but scale_2000). */
const EDGE_BUNDLES = BUNDLES.filter((bundle) => existsSync(join(FIXTURES, bundle, 'edge_cases_torch_only.json')));

describe.each(EDGE_BUNDLES)('PETRA parity of /anomaly on %s: input_marking keys the ONNX graph cannot read', (bundle) => {
  let app: App;

  beforeAll(async () => {
    app = await testApp({ bundle: modelPath(bundle) });
  });
  afterAll(async () => app?.close());

  it("answers PETRA's torch-only edge cases as PETRA's ONNX answer: the key the graph has no input for ignored, and named", async () => {
    const edges = readFixture<EdgeCase[]>(bundle, 'edge_cases_torch_only.json');
    const inputs = new Set(readFixture<{ input_marking_places: string[] }>(bundle, 'model.onnx.meta.json').input_marking_places);
    expect(edges.length).toBeGreaterThan(0);
    for (const c of edges) {
      const response = await app.inject({ method: 'POST', url: '/anomaly', payload: body(c) });
      expect(response.statusCode, `${c.id}: ${response.body}`).toBe(200);
      const answer = response.json<{ trace_score: number; per_transition_residuals: Record<string, number>; ignored_inputs?: string[] }>();
      expectScoreClose(answer, c.onnx_if_extra_keys_ignored, c.id);
      const extra = Object.keys(c.input_marking).filter((key) => !inputs.has(key));
      expect(extra.length, c.id).toBeGreaterThan(0);
      expect(answer.ignored_inputs, c.id).toEqual(expect.arrayContaining(extra.map((key) => `/input_marking/${key}`)));
    }
  });
});
