import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import type { App } from '../../src/app.js';
import { testApp } from '../helpers/app.js';
import { BUNDLES, modelPath, readFixture, type ForwardCase } from '../helpers/fixtures.js';
import { expectRecordClose, VALUE_TOLERANCE } from '../helpers/tolerance.js';

describe.each(BUNDLES)('PETRA parity of /forward on %s', (bundle) => {
  let app: App;
  const cases = readFixture<ForwardCase[]>(bundle, 'forward_cases.json');

  beforeAll(async () => {
    app = await testApp({ bundle: modelPath(bundle) });
  });
  afterAll(async () => app?.close());

  it(`gives PETRA's output-transition activations for all ${cases.length} forward cases`, async () => {
    for (const c of cases) {
      const response = await app.inject({ method: 'POST', url: '/forward', payload: { input_marking: c.input_marking, input_values: c.input_values } });
      expect(response.statusCode, `${c.id}: ${response.body}`).toBe(200);
      expectRecordClose(response.json().transition_activations, c.expected_activations, VALUE_TOLERANCE, c.id);
    }
  });
});
