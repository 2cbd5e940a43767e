import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { scoreLog, type ReportEntry } from '../../src/batch/score-log.js';
import type { LogItem } from '../../src/logs/index.js';
import { testApp } from '../helpers/app.js';

async function* traces(count: number): AsyncIterable<LogItem> {
  for (let index = 0; index < count; index++) yield { index, attributes: { risk_score: String(index / count) }, events: ['approve loan'] };
}

/**
 * The report writer's backpressure, as scoreLog sees it: an output that wants to drain makes emit return a promise. A
 * batch's entries were all emitted before the last promise was waited for, so a large --batch-size held its whole
 * report text (and every entry's residual record) at once.
 */
describe('scoreLog', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('emits no entry while the output is draining from the one before, whatever the batch size, in input order', async () => {
    const emitted: ReportEntry[] = [];
    let draining = false;
    let emittedWhileDraining = 0;
    const emit = (entry: ReportEntry): Promise<void> => {
      if (draining) emittedWhileDraining++;
      emitted.push(entry);
      draining = true;
      return new Promise((resolve) =>
        setImmediate(() => {
          draining = false;
          resolve();
        }),
      );
    };
    const stats = await scoreLog(app.petra.scorer, traces(300), 256, emit);
    expect(stats).toMatchObject({ traces: 300, errors: 0, matched: 300 });
    expect(emittedWhileDraining).toBe(0);
    expect(emitted.map((e) => e.index)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    // Each entry its own score, as one trace scored alone gets it.
    const alone = await app.inject({ method: 'POST', url: '/anomaly', payload: { events: [{ name: 'approve loan' }], attributes: { risk_score: String(299 / 300) } } });
    expect('score' in emitted[299]! && emitted[299].score.toTraceScore()).toEqual(alone.json());
  });
});
