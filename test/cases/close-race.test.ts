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
    // Applied once the close has ended: the event knows it opened a new case.
    expect(next).toEqual({ kind: 'acknowledged', ack: { case_id: id, n_events: 1 }, reopened: 'closed' });
    expect((await closing).n_events).toBe(1);
    // The new case is open, and a reader of the feed must end up with it open too.
    expect(app.cases.openCases).toBe(1);
    expect(feedFor(app, id, before)).toEqual(['case_opened', 'case_closed', 'case_opened']);
    expect(app.live.snapshot().cases.map((c) => c.case_id)).toEqual([id]);
  });

  it('answers requests for the id after the close under way: a retried close repeats it, a late event says it reopened, a DELETE ends the new case in feed order', async () => {
    const repeating = await testApp({ liveStatsIntervalMs: 0, repeatClose: true });
    try {
      const id = 'retried';
      const before = repeating.live.bus.latestId;
      await repeating.cases.onEvent(id, { name: 'approve loan', attributes: { risk_score: '0.9' } }, false);
      const closing = repeating.cases.closeCase(id);
      const retried = repeating.cases.closeCase(id);
      const late = repeating.cases.onEvent(id, { name: 'decline loan', attributes: { risk_score: '0.9' } }, false);
      const open = repeating.cases.mustBeOpen(id);
      const deleted = repeating.cases.discardCase(id);
      const [first, again, event] = await Promise.all([closing, retried, late]);
      expect(again.repeated).toBe(true);
      expect(again.trace_score).toBe(first.trace_score);
      expect(event).toMatchObject({ ack: { n_events: 1 }, reopened: 'closed' });
      await open;
      expect(await deleted).toEqual({ case_id: id, n_events: 1 });
      expect(feedFor(repeating, id, before)).toEqual(['case_opened', 'case_closed', 'case_opened', 'case_evicted']);
      expect(repeating.cases.openCases).toBe(0);
    } finally {
      await repeating.close();
    }
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
