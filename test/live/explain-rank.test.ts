import { describe, expect, it } from 'vitest';
import { netFromSidecar } from '../../src/bundle/net-from-sidecar.js';
import type { Sidecar } from '../../src/bundle/sidecar-schema.js';
import { AlertRecord } from '../../src/live/alert-record.js';
import { Explainer, MAX_EXPLAINED } from '../../src/live/explain.js';
import { emptyObserved, isObserved, markObserved } from '../../src/scoring/observed.js';
import { readFixture } from '../helpers/fixtures.js';

describe('Explainer.rank', () => {
  // scale_200: 201 scored transitions, so explanations can run past MAX_EXPLAINED.
  const { net } = netFromSidecar(readFixture<Sidecar>('scale_200', 'model.onnx.meta.json'));
  const explainer = new Explainer(net, 0.25);

  it('ranks like a stable sort of the transitions above the floor, keeps MAX_EXPLAINED and counts the rest, in a reused record', () => {
    let seed = 11;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alert = new AlertRecord(explainer);
    for (let trial = 0; trial < 300; trial++) {
      // Few distinct values, so ties are common; sometimes most of the net is above the floor.
      const dense = random() < 0.5;
      const residuals = net.outputs.map(() => (random() < (dense ? 0.6 : 0.05) ? Math.round(random() * 8) / 8 : 0));
      let observed = emptyObserved(net.outputs.length);
      net.outputs.forEach((_, column) => {
        if (random() < 0.3) observed = markObserved(observed, column);
      });
      explainer.rank({ trace_score: 0, residualAt: (column) => residuals[column]! }, observed, alert);

      const above = net.scoreOrder.filter((column) => residuals[column]! > 0.25);
      const expected = [...above].sort((a, b) => residuals[b]! - residuals[a]!).slice(0, MAX_EXPLAINED);
      expect([...alert.columns.subarray(0, alert.count)]).toEqual(expected);
      expect([...alert.residuals.subarray(0, alert.count)]).toEqual(expected.map((column) => residuals[column]));
      expect([...alert.observed.subarray(0, alert.count)]).toEqual(expected.map((column) => (isObserved(observed, column) ? 1 : 0)));
      expect(alert.omitted).toBe(above.length - expected.length);
    }
  });
});
