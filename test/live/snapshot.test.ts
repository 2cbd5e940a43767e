import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { SnapshotEvent } from '../../src/live/events.js';
import { testApp } from '../helpers/app.js';

/** GET /live/snapshot: the board a reload draws, which must be the one the feed drew. */
describe('GET /live/snapshot', () => {
  let app: App | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  const post = async (url: string, payload: object) => {
    const response = await app!.inject({ method: 'POST', url, payload });
    expect(response.statusCode, response.body).toBeLessThan(300);
    return response.json<{ trace_score?: number }>();
  };
  const snapshot = async (query: string) => (await app!.inject({ method: 'GET', url: `/live/snapshot${query}` })).json<SnapshotEvent>();

  it('keeps a case under the lane it was last published under until its next evaluation moves it, as the feed does', async () => {
    app = await testApp({ laneAttribute: 'host', liveStatsIntervalMs: 0 });
    await post('/cases/Y1/events?score=true', { name: 'approve loan', attributes: { risk_score: '0.9', host: 'ha' } });
    // Unscored: nothing is published, so a reader of lane hb has not heard of the case.
    await post('/cases/Y1/events', { name: 'decline loan', attributes: { host: 'hb' } });
    expect((await snapshot('?lane=hb')).cases).toEqual([]);
    const before = (await snapshot('?lane=ha')).cases;
    expect(before.map((c) => [c.case_id, c.lane, c.n_events, c.last?.lane])).toEqual([['Y1', 'ha', 2, 'ha']]);

    await post('/cases/Y1/events?score=true', { name: 'decline loan' });
    expect((await snapshot('?lane=ha')).cases).toEqual([]);
    const after = (await snapshot('?lane=hb')).cases;
    expect(after.map((c) => [c.case_id, c.lane, c.n_events, c.last?.lane])).toEqual([['Y1', 'hb', 3, 'hb']]);
  });

  it('with min_score, shows a stateless lane\'s last evaluation only when it reaches min_score, as its recent scores', async () => {
    app = await testApp({ liveStatsIntervalMs: 0 });
    const high = await post('/anomaly', { input_marking: { p_application: 0.9 }, events: [{ name: 'decline loan' }] });
    const low = await post('/anomaly', { input_marking: { p_application: 0.9 }, events: [{ name: 'approve loan' }] });
    expect(high.trace_score!).toBeGreaterThan(1.5);
    expect(low.trace_score!).toBeLessThan(1.5);

    const filtered = (await snapshot('?min_score=1.5')).stateless;
    expect(filtered).toHaveLength(1);
    expect(filtered[0]!.recent_scores).toEqual([high.trace_score]);
    expect(filtered[0]!.last).toBeUndefined();
    const whole = (await snapshot('')).stateless;
    expect(whole[0]!.recent_scores).toEqual([high.trace_score, low.trace_score]);
    expect(whole[0]!.last?.trace_score).toBe(low.trace_score);
    expect((await snapshot(`?min_score=${low.trace_score}`)).stateless[0]!.last?.trace_score).toBe(low.trace_score);
  });
});
