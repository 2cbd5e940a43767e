import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { testApp } from '../helpers/app.js';

interface CaseEventRecord {
  type: string;
  case_id?: string;
}

/** The case events the live feed published for `caseId`, in feed order. */
function feedFor(app: App, caseId: string, after: number): string[] {
  const types: string[] = [];
  for (let id = after + 1; id <= app.live.bus.latestId; id++) {
    const event = app.live.bus.ring.get(id)?.event as CaseEventRecord | undefined;
    if (event?.case_id === caseId && event.type.startsWith('case_')) types.push(event.type);
  }
  return types;
}

describe('a close racing with an event for the same case id', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ liveStatsIntervalMs: 0 });
  });
  afterAll(async () => app.close());

  it('the feed says the old case closed before the new one opened, as the store applied them', async () => {
    const id = 'race';
    const before = app.live.bus.latestId;
    await app.cases.onEvent(id, { name: 'approve loan', attributes: { risk_score: '0.9' } }, false);
    // The close takes the case out of the store and waits for the model; an event for the id comes meanwhile.
    const closing = app.cases.closeCase(id);
    const next = await app.cases.onEvent(id, { name: 'decline loan', attributes: { risk_score: '0.9' } }, false);
    expect(next).toEqual({ kind: 'acknowledged', ack: { case_id: id, n_events: 1 } });
    expect((await closing).n_events).toBe(1);
    // The new case is open, and a reader of the feed must end up with it open too.
    expect(app.cases.openCases).toBe(1);
    expect(feedFor(app, id, before)).toEqual(['case_opened', 'case_closed', 'case_opened']);
    expect(app.live.snapshot().cases.map((c) => c.case_id)).toEqual([id]);
  });

  it('holds the opening behind every close still in flight, in order', async () => {
    const id = 'twice';
    const before = app.live.bus.latestId;
    await app.cases.onEvent(id, { name: 'approve loan', attributes: { risk_score: '0.9' } }, false);
    const first = app.cases.closeCase(id);
    await app.cases.onEvent(id, { name: 'approve loan', attributes: { risk_score: '0.5' } }, false);
    const second = app.cases.closeCase(id);
    await app.cases.onEvent(id, { name: 'decline loan', attributes: { risk_score: '0.1' } }, false);
    await Promise.all([first, second]);
    expect(feedFor(app, id, before)).toEqual(['case_opened', 'case_closed', 'case_opened', 'case_closed', 'case_opened']);
  });
});
