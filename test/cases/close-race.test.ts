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
    // Its own app: it counts the open cases, and the other tests leave theirs open on the shared one (it read 3 when
    // vitest --sequence.shuffle ran it after them).
    const app = await testApp({ liveStatsIntervalMs: 0 });
    try {
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
    } finally {
      await app.close();
    }
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

  it('closes the case a late event opened when a second close waited on the same close behind that event', async () => {
    const id = 'second-close';
    await app.cases.onEvent(id, { name: 'approve loan', attributes: { risk_score: '0.9' } }, false);
    const first = app.cases.closeCase(id);
    const late = app.cases.onEvent(id, { name: 'decline loan', attributes: { risk_score: '0.9' } }, false);
    const second = app.cases.closeCase(id);
    expect((await first).n_events).toBe(1);
    expect(await late).toMatchObject({ reopened: 'closed' });
    // In arrival order the event came first: the second close is the new case's (it answered 404 while it was open).
    const closedToo = await second;
    expect(closedToo).toMatchObject({ n_events: 1, closed: true, repeated: false });
    await expect(app.cases.mustBeOpen(id)).rejects.toThrow(/no open case/);
  });

  it('a retried close, a DELETE and a GET that waited on a close do not act on the case a later POST /events opened meanwhile', async () => {
    for (const repeatClose of [false, true]) {
      const own = await testApp({ liveStatsIntervalMs: 0, repeatClose });
      try {
        const id = 'overtaken';
        await own.cases.onEvent(id, { name: 'approve loan', attributes: { risk_score: '0.9' } }, false);
        const first = own.cases.closeCase(id);
        // Requests for the case being closed, which wait for its close...
        const retried = own.cases.closeCase(id).then((e) => e, (error: Error) => error);
        const deleted = own.cases.discardCase(id).then((e) => e, (error: Error) => error);
        const scored = own.cases.scoreCase(id).then((e) => e, (error: Error) => error);
        // ...and then a POST /events, whose event opens a new case under the id at once, during the close's run.
        const bulk = own.cases.processStream([{ case_id: id, name: 'decline loan', attributes: { risk_score: '0.9' } }], false);
        const closed = await first;
        // It says its case is a new one, as an event after the close would.
        expect((await bulk)[0], `repeatClose ${repeatClose}`).toMatchObject({ n_events: 1, reopened: 'closed' });
        const again = await retried;
        if (repeatClose) expect(again).toMatchObject({ repeated: true, n_events: 1, trace_score: closed.trace_score });
        else expect(again).toMatchObject({ name: 'UnknownCaseError', message: expect.stringMatching(/^the case 'overtaken' this request came for is no longer open: it was closed, after 1 event/) });
        expect(await deleted, `repeatClose ${repeatClose}`).toMatchObject({ name: 'UnknownCaseError' });
        expect(await scored, `repeatClose ${repeatClose}`).toMatchObject({ name: 'UnknownCaseError' });
        // The newer case, with its acknowledged event, is still open.
        await own.cases.mustBeOpen(id);
        expect((await own.cases.closeCase(id)).n_events).toBe(1);
      } finally {
        await own.close();
      }
    }
  });

  it('applies POST /events at once, in arrival order, while a close of one of its ids is under way', async () => {
    await app.cases.onEvent('bulk-x', { name: 'approve loan', attributes: { risk_score: '0.9' } }, false);
    await app.cases.onEvent('bulk-y', { name: 'approve loan', attributes: { risk_score: '0.9' } }, false);
    const closingY = app.cases.closeCase('bulk-y');
    const bulk = app.cases.processStream([{ case_id: 'bulk-y', name: 'decline loan' }, { case_id: 'bulk-x', name: 'decline loan' }], false);
    // A close of X that arrives after the bulk request sees its event.
    const closingX = app.cases.closeCase('bulk-x');
    expect((await closingX).n_events).toBe(2);
    await Promise.all([closingY, bulk]);
  });

  it('repeats the answer of a close that began while a retried close waited (--repeat-close)', async () => {
    const repeating = await testApp({ liveStatsIntervalMs: 0, repeatClose: true });
    try {
      const id = 'three';
      await repeating.cases.onEvent(id, { name: 'approve loan', attributes: { risk_score: '0.9' } }, false);
      const first = repeating.cases.closeCase(id);
      const late = repeating.cases.onEvent(id, { name: 'decline loan', attributes: { risk_score: '0.9' } }, false);
      const second = repeating.cases.closeCase(id);
      const retry = repeating.cases.closeCase(id);
      const [, , closedSecond, retried] = await Promise.all([first, late, second, retry]);
      expect(closedSecond).toMatchObject({ n_events: 1, repeated: false });
      expect(retried).toMatchObject({ n_events: 1, repeated: true, trace_score: closedSecond.trace_score });
    } finally {
      await repeating.close();
    }
  });

  it("publishes the eviction of a case opened behind an earlier case's held eviction after that case's, in order", async () => {
    const small = await testApp({ liveStatsIntervalMs: 0, maxOpenCases: 2 });
    try {
      const before = small.live.bus.latestId;
      const event = (name: string) => ({ name, attributes: { risk_score: '0.9' } });
      await small.cases.onEvent('X', event('approve loan'), false);
      await small.cases.onEvent('Y', event('approve loan'), false);
      // X's evaluation runs; meanwhile Y and Z push X out for capacity, and its eviction waits for the evaluation.
      const scoring = small.cases.onEvent('X', event('decline loan'), true);
      void small.cases.onEvent('Y', event('approve loan'), false);
      void small.cases.onEvent('Z', event('approve loan'), false);
      // A new X opens (its case_opened waits behind the old X's eviction), and is deleted before that is published.
      expect(await small.cases.onEvent('X', event('approve loan'), false)).toMatchObject({ reopened: 'evicted (capacity)' });
      expect(await small.cases.discardCase('X')).toEqual({ case_id: 'X', n_events: 1 });
      await scoring;
      const feed: string[] = [];
      for (let at = before + 1; at <= small.live.bus.latestId; at++) {
        const published = small.live.bus.ring.get(at)?.event as { type: string; case_id?: string; reason?: string } | undefined;
        if (published?.case_id === 'X' && published.type !== 'alert') feed.push(published.reason === undefined ? published.type : `${published.type} ${published.reason}`);
      }
      expect(feed).toEqual(['case_opened', 'evaluation', 'case_evicted capacity', 'case_opened', 'case_evicted deleted']);
    } finally {
      await small.close();
    }
  });

  it("publishes a close after the case's evaluations still under way, which a POST /events beyond --max-batch-rows runs beside the queue", async () => {
    // Two rows a run: the four scored events run in two runs of their own, and the close, queued, between them.
    const chunked = await testApp({ liveStatsIntervalMs: 0, maxBatchRows: 2 });
    try {
      const id = 'backfilled';
      const before = chunked.live.bus.latestId;
      const event = (name: string) => ({ case_id: id, name, attributes: { risk_score: '0.9' } });
      const bulk = chunked.cases.processStream([event('approve loan'), event('decline loan'), event('decline loan'), event('approve loan')], true);
      const closed = await chunked.cases.closeCase(id);
      expect(closed).toMatchObject({ n_events: 4, closed: true });
      expect((await bulk).map((item) => ('closed' in item ? item.n_events : undefined))).toEqual([1, 2, 3, 4]);
      const feed: string[] = [];
      for (let at = before + 1; at <= chunked.live.bus.latestId; at++) {
        const published = chunked.live.bus.ring.get(at)?.event as { type: string; case_id?: string; n_events?: number; closed?: boolean } | undefined;
        if (published?.case_id !== id) continue;
        feed.push(published.type === 'case_opened' || published.type === 'case_closed' ? published.type : `${published.type} #${published.n_events}${published.closed === true ? ' closed' : ''}`);
      }
      // Its alerts too came while it was open (the last with its close): nothing of it after its case_closed.
      expect(feed.at(-1)).toBe('case_closed');
      expect(feed.filter((line) => !line.startsWith('alert'))).toEqual(['case_opened', 'evaluation #1', 'evaluation #2', 'evaluation #3', 'evaluation #4', 'evaluation #4 closed', 'case_closed']);
    } finally {
      await chunked.close();
    }
  });

  it("publishes a case a POST /events opened during a close, and that case's evaluations, after the close", async () => {
    const id = 'reopened-scored';
    const before = app.live.bus.latestId;
    const event = { name: 'approve loan', attributes: { risk_score: '0.9' } };
    // A scored event in flight: the close waits for its evaluation before it queues its own run, behind the new case's.
    const scored = app.cases.onEvent(id, event, true);
    const closing = app.cases.closeCase(id);
    const reopened = app.cases.processStream([{ case_id: id, ...event }], true);
    await Promise.all([scored, closing, reopened]);
    const feed: string[] = [];
    for (let at = before + 1; at <= app.live.bus.latestId; at++) {
      const published = app.live.bus.ring.get(at)?.event as { type: string; case_id?: string; n_events?: number; closed?: boolean; source?: string } | undefined;
      if (published?.case_id !== id || published.type === 'alert') continue;
      feed.push(published.type === 'evaluation' ? `evaluation ${published.source}${published.closed === true ? ' closed' : ''}` : published.type);
    }
    expect(feed).toEqual(['case_opened', 'evaluation stream_event', 'evaluation case_close closed', 'case_closed', 'case_opened', 'evaluation events']);
    expect(app.live.snapshot().cases.filter((c) => c.case_id === id)).toHaveLength(1);
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
