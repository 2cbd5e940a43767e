import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { App } from '../../src/app.js';
import { testApp } from '../helpers/app.js';
import { expectScoreClose } from '../helpers/tolerance.js';
import type { ErrorBody } from '../../src/schemas/common.js';

interface Score {
  trace_score: number;
  per_transition_residuals: Record<string, number>;
}

interface Evaluation extends Score {
  case_id: string;
  n_events: number;
  closed: boolean;
}

interface NotScored {
  reason: string;
  attribute: string;
  place: string;
  message: string;
}

interface Acknowledgement {
  case_id: string;
  n_events: number;
  not_scored?: NotScored;
}

const MISSING = "trace missing attribute 'risk_score' required by input_marking for place 'p_application'";

function post(app: App, url: string, payload?: unknown): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url, payload: payload as InjectOptions['payload'] });
}

function caseUrl(caseId: string, suffix = ''): string {
  return `/cases/${encodeURIComponent(caseId)}${suffix}`;
}

function expectEvaluation(response: LightMyRequestResponse, caseId: string, nEvents: number, closed = false): Evaluation {
  expect(response.statusCode, response.body).toBe(200);
  const body = response.json<Evaluation>();
  expect(Object.keys(body).sort()).toEqual(['case_id', 'closed', 'n_events', 'per_transition_residuals', 'trace_score']);
  expect({ case_id: body.case_id, n_events: body.n_events, closed: body.closed }).toEqual({ case_id: caseId, n_events: nEvents, closed });
  return body;
}

function expectAck(response: LightMyRequestResponse): Acknowledgement {
  expect(response.statusCode, response.body).toBe(202);
  return response.json<Acknowledgement>();
}

/** What offline /anomaly says for this marking and these event names: the reference a case must match. */
async function reference(app: App, riskScore: number, names: string[]): Promise<Score> {
  const response = await post(app, '/anomaly', { input_marking: { p_application: riskScore }, events: names.map((name) => ({ name })) });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Score>();
}

describe('streaming cases beyond the PETRA fixtures', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  describe('acknowledgement versus scoring', () => {
    it('answers 202 with exactly {case_id, n_events} by default', async () => {
      expect(expectAck(await post(app, caseUrl('ack', '/events'), { name: 'approve loan', timestamp: 1700000000, attributes: { risk_score: '0.9' } }))).toEqual({ case_id: 'ack', n_events: 1 });
      expect(expectAck(await post(app, caseUrl('ack', '/events'), { name: 'something else', timestamp: '2024-01-01T00:00:00Z' }))).toEqual({ case_id: 'ack', n_events: 2 });
      expect(expectAck(await post(app, caseUrl('ack', '/events?score=false'), { name: 'x' }))).toEqual({ case_id: 'ack', n_events: 3 });
    });

    it('answers 200 with the evaluation for ?score=true, matching offline /anomaly', async () => {
      const evaluation = expectEvaluation(await post(app, caseUrl('scored', '/events?score=true'), { name: 'approve loan', attributes: { risk_score: '0.9' } }), 'scored', 1);
      expectScoreClose(evaluation, await reference(app, 0.9, ['approve loan']), 'first scored event');
      // Unknown names count as events but observe nothing.
      const second = expectEvaluation(await post(app, caseUrl('scored', '/events?score=true'), { name: 'call customer' }), 'scored', 2);
      expectScoreClose(second, await reference(app, 0.9, ['approve loan']), 'after an unknown name');
    });

    it('reads ?score the way TypeBox converts a boolean: true/false, any case, 1/0', async () => {
      expectEvaluation(await post(app, caseUrl('spelt', '/events?score=TRUE'), { name: 'approve loan', attributes: { risk_score: '0.4' } }), 'spelt', 1);
      expectEvaluation(await post(app, caseUrl('spelt', '/events?score=1'), { name: 'x' }), 'spelt', 2);
      expect(expectAck(await post(app, caseUrl('spelt', '/events?score=0'), { name: 'x' }))).toEqual({ case_id: 'spelt', n_events: 3 });
      expect(expectAck(await post(app, caseUrl('spelt', '/events?score=False'), { name: 'x' }))).toEqual({ case_id: 'spelt', n_events: 4 });
    });

    it('scores every event when the server says so, unless ?score=false', async () => {
      const eager = await testApp({ scoreEveryEvent: true });
      try {
        expectEvaluation(await post(eager, caseUrl('e', '/events'), { name: 'decline loan', attributes: { risk_score: '0.2' } }), 'e', 1);
        expect(expectAck(await post(eager, caseUrl('e', '/events?score=false'), { name: 'x' }))).toEqual({ case_id: 'e', n_events: 2 });
      } finally {
        await eager.close();
      }
    });

    it('carries the case id through URL encoding', async () => {
      const id = 'loan 42/a?b#c';
      expect(expectAck(await post(app, caseUrl(id, '/events'), { name: 'x', attributes: { risk_score: '0.5' } }))).toEqual({ case_id: id, n_events: 1 });
      expectEvaluation(await app.inject({ method: 'GET', url: caseUrl(id) }), id, 1);
      expectEvaluation(await post(app, caseUrl(id, '/close')), id, 1, true);
    });
  });

  describe('attributes merge, latest wins', () => {
    it('rescores with the newest risk_score, keeps keys that later events omit, and accumulates labels', async () => {
      const high = expectEvaluation(await post(app, caseUrl('merge', '/events?score=true'), { name: 'approve loan', attributes: { risk_score: '0.9', channel: 'web' } }), 'merge', 1);
      expectScoreClose(high, await reference(app, 0.9, ['approve loan']), 'risk 0.9');

      const low = expectEvaluation(await post(app, caseUrl('merge', '/events?score=true'), { name: 'approve loan', attributes: { risk_score: '0.1' } }), 'merge', 2);
      expectScoreClose(low, await reference(app, 0.1, ['approve loan']), 'risk 0.1');
      expect(Math.abs(low.trace_score - high.trace_score)).toBeGreaterThan(0.1);

      // No risk_score in this event: the merged 0.1 still applies.
      const kept = expectEvaluation(await post(app, caseUrl('merge', '/events?score=true'), { name: 'decline loan', attributes: { channel: 'branch' } }), 'merge', 3);
      expectScoreClose(kept, await reference(app, 0.1, ['approve loan', 'decline loan']), 'risk kept, both labels');

      // A later numeric value of another JSON type wins as well.
      const numeric = expectEvaluation(await post(app, caseUrl('merge', '/events?score=true'), { name: 'x', attributes: { risk_score: 0.5 } }), 'merge', 4);
      expectScoreClose(numeric, await reference(app, 0.5, ['approve loan', 'decline loan']), 'risk 0.5');
    });

    it('lets a later non-numeric value replace a good one, and a still later good one repair it', async () => {
      expectEvaluation(await post(app, caseUrl('repair', '/events?score=true'), { name: 'approve loan', attributes: { risk_score: '0.9' } }), 'repair', 1);
      const broken = expectAck(await post(app, caseUrl('repair', '/events?score=true'), { name: 'x', attributes: { risk_score: 'high' } }));
      expect(broken.n_events).toBe(2);
      expect(broken.not_scored?.reason).toBe('non_numeric_attribute');
      expect(broken.not_scored?.attribute).toBe('risk_score');
      expect(broken.not_scored?.place).toBe('p_application');
      const fixed = expectEvaluation(await post(app, caseUrl('repair', '/events?score=true'), { name: 'x', attributes: { risk_score: '0.3' } }), 'repair', 3);
      expectScoreClose(fixed, await reference(app, 0.3, ['approve loan']), 'repaired');
    });
  });

  describe('events before the attribute the spec needs', () => {
    it('keeps the event, says why it cannot be scored, and counts it once the attribute arrives', async () => {
      const early = expectAck(await post(app, caseUrl('early', '/events?score=true'), { name: 'decline loan', attributes: { channel: 'web' } }));
      expect(early).toEqual({
        case_id: 'early',
        n_events: 1,
        not_scored: { reason: 'missing_attribute', attribute: 'risk_score', place: 'p_application', message: MISSING },
      });
      // Unscored acknowledgements never carry not_scored.
      expect(expectAck(await post(app, caseUrl('early', '/events'), { name: 'x' }))).toEqual({ case_id: 'early', n_events: 2 });

      const later = expectEvaluation(await post(app, caseUrl('early', '/events?score=true'), { name: 'approve loan', attributes: { risk_score: '0.4' } }), 'early', 3);
      // The early decline is part of the trace.
      expectScoreClose(later, await reference(app, 0.4, ['decline loan', 'approve loan']), 'with the early event');
      const withoutEarly = await reference(app, 0.4, ['approve loan']);
      expect(Math.abs(later.trace_score - withoutEarly.trace_score)).toBeGreaterThan(0.5);
    });

    it('answers GET /cases/:id for such a case with 422 and the reason, and keeps it open', async () => {
      expectAck(await post(app, caseUrl('waiting', '/events'), { name: 'approve loan' }));
      const response = await app.inject({ method: 'GET', url: caseUrl('waiting') });
      expect(response.statusCode, response.body).toBe(422);
      const body = response.json<ErrorBody>();
      expect({ error: body.error, message: body.message }).toEqual({ error: 'missing_attribute', message: MISSING });
      expect(body.details).toEqual([{ path: 'params/id', message: MISSING }]);
      const list = await app.inject({ method: 'GET', url: '/cases' });
      expect(list.json<{ case_ids: string[] }>().case_ids).toContain('waiting');
    });
  });

  describe('closing', () => {
    it('scores with closed: true, frees the case, and the same id starts fresh', async () => {
      expectAck(await post(app, caseUrl('life', '/events'), { name: 'approve loan', attributes: { risk_score: '0.8' } }));
      expectAck(await post(app, caseUrl('life', '/events'), { name: 'decline loan' }));
      const closed = expectEvaluation(await post(app, caseUrl('life', '/close')), 'life', 2, true);
      expectScoreClose(closed, await reference(app, 0.8, ['approve loan', 'decline loan']), 'close');

      const gone = await app.inject({ method: 'GET', url: caseUrl('life') });
      expect(gone.statusCode).toBe(404);
      expect(gone.json<ErrorBody>().message).toMatch(/^no open case 'life': it was closed \d+ s ago, after 2 events; an event under this id starts a new case$/);
      // PETRA's close of a closed case answers None.
      expect((await post(app, caseUrl('life', '/close'))).statusCode).toBe(404);
      const list = await app.inject({ method: 'GET', url: '/cases' });
      expect(list.json<{ case_ids: string[] }>().case_ids).not.toContain('life');

      // Fresh: one event, no labels and no attributes from before.
      const freshResponse = await post(app, caseUrl('life', '/events?score=true'), { name: 'decline loan' });
      expect(freshResponse.headers['x-petrascore-reopened']).toBe('closed');
      const fresh = expectAck(freshResponse);
      expect(fresh).toEqual({ case_id: 'life', n_events: 1, not_scored: { reason: 'missing_attribute', attribute: 'risk_score', place: 'p_application', message: MISSING } });
      const rescored = expectEvaluation(await post(app, caseUrl('life', '/events?score=true'), { name: 'x', attributes: { risk_score: '0.8' } }), 'life', 2);
      expectScoreClose(rescored, await reference(app, 0.8, ['decline loan']), 'fresh case');
    });

    it('with --repeat-close, answers a repeated close (a retry after a timeout) with the same evaluation, marked, and publishes nothing', async () => {
      const app = await testApp({ repeatClose: true });
      onTestFinished(() => app.close());
      expectAck(await post(app, caseUrl('retried', '/events'), { name: 'approve loan', attributes: { risk_score: '0.8' } }));
      // Two closes on one connection's worth of time: the second overtakes nothing, it waits for the first's run.
      const [first, overtaking] = await Promise.all([post(app, caseUrl('retried', '/close')), post(app, caseUrl('retried', '/close'))]);
      expect(first.statusCode, first.body).toBe(200);
      expect(first.headers['x-petrascore-repeated']).toBeUndefined();
      const published = app.live.bus.latestId;
      const again = await post(app, caseUrl('retried', '/close'));
      for (const repeat of [overtaking, again]) {
        expect(repeat.statusCode, repeat.body).toBe(200);
        expect(repeat.headers['x-petrascore-repeated']).toBe('true');
        expect(repeat.body).toBe(first.body);
      }
      expect(app.live.bus.latestId).toBe(published);
      // A new case under the id: its close is its own.
      expectAck(await post(app, caseUrl('retried', '/events'), { name: 'decline loan', attributes: { risk_score: '0.8' } }));
      const second = await post(app, caseUrl('retried', '/close'));
      expect(second.headers['x-petrascore-repeated']).toBeUndefined();
      expect(second.body).not.toBe(first.body);
      expect(second.json<{ n_events: number }>().n_events).toBe(1);
    });

    it('refuses an event sent with a close, rather than dropping it; an empty body, {} or null are no body', async () => {
      expectAck(await post(app, caseUrl('with-body', '/events'), { name: 'approve loan', attributes: { risk_score: '0.8' } }));
      const refused = await app.inject({ method: 'POST', url: caseUrl('with-body', '/close'), headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'decline loan' }) });
      expect(refused.statusCode, refused.body).toBe(400);
      expect(refused.json<ErrorBody>()).toMatchObject({ error: 'unexpected_body', details: [{ path: 'body', message: 'this route takes no body' }] });
      expect(refused.json<ErrorBody>().message).toContain('POST /cases/with-body/close takes no body');
      expect(refused.json<ErrorBody>().message).toContain('an event goes to POST /cases/{id}/events before the close');
      const deleted = await app.inject({ method: 'DELETE', url: caseUrl('with-body'), headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ reason: 'abandoned' }) });
      expect(deleted.statusCode, deleted.body).toBe(400);
      expect(deleted.json<ErrorBody>().message).toBe('DELETE /cases/with-body takes no body (an empty one, {} or null are accepted); a DELETE drops the case unscored');
      expect((await app.inject({ method: 'HEAD', url: caseUrl('with-body') })).statusCode).toBe(200);
      for (const payload of ['{}', 'null', '']) {
        expectAck(await post(app, caseUrl('nothing', '/events'), { name: 'approve loan', attributes: { risk_score: '0.8' } }));
        const closed = await app.inject({ method: 'POST', url: caseUrl('nothing', '/close'), headers: { 'content-type': 'application/json' }, payload });
        expect(closed.statusCode, `${payload}: ${closed.body}`).toBe(200);
      }
    });

    it('reads null attributes and a null timestamp as none, as Java serialisers write absent fields', async () => {
      expect(expectAck(await post(app, caseUrl('nulls', '/events'), { name: 'approve loan', timestamp: null, attributes: null }))).toEqual({ case_id: 'nulls', n_events: 1 });
      const scored = expectEvaluation(await post(app, caseUrl('nulls', '/events?score=true'), { name: 'x', attributes: { risk_score: '0.8' } }), 'nulls', 2);
      expectScoreClose(scored, await reference(app, 0.8, ['approve loan']), 'after a null');
      const batch = await post(app, '/events', { events: [{ case_id: 'nulls', name: 'decline loan', attributes: null }] });
      expect(batch.statusCode, batch.body).toBe(200);
      const stateless = await post(app, '/anomaly', { input_marking: { p_application: 0.8 }, events: [{ name: 'approve loan', attributes: null }], attributes: null });
      expect(stateless.statusCode, stateless.body).toBe(200);
      const derived = await post(app, '/anomaly', { events: [{ name: 'approve loan' }], attributes: null });
      expect(derived.statusCode, derived.body).toBe(422);
    });

    it('tells a request for a deleted or evicted case how it ended', async () => {
      expectAck(await post(app, caseUrl('dropped', '/events'), { name: 'approve loan' }));
      expect((await app.inject({ method: 'DELETE', url: caseUrl('dropped') })).statusCode).toBe(200);
      for (const request of [{ method: 'POST', url: caseUrl('dropped', '/close') }, { method: 'GET', url: caseUrl('dropped') }, { method: 'DELETE', url: caseUrl('dropped') }] as const) {
        const response = await app.inject(request);
        expect(response.statusCode).toBe(404);
        expect(response.json<ErrorBody>()).toMatchObject({ error: 'case_not_found' });
        expect(response.json<ErrorBody>().message).toMatch(/^no open case 'dropped': it was deleted \d+ s ago, after 1 event; an event under this id starts a new case$/);
      }
      const never = await app.inject({ method: 'GET', url: caseUrl('never-seen-here') });
      expect(never.json<ErrorBody>().message).toBe("no open case 'never-seen-here'");
      // An event under the id opens a new case, and says the earlier one ended (its events are not in this one).
      const reopened = await post(app, caseUrl('dropped', '/events'), { name: 'approve loan' });
      expect(reopened.statusCode).toBe(202);
      expect(reopened.headers['x-petrascore-reopened']).toBe('deleted');
      expect((await post(app, caseUrl('dropped', '/events'), { name: 'approve loan' })).headers['x-petrascore-reopened']).toBeUndefined();
      expect((await post(app, caseUrl('first-time', '/events'), { name: 'approve loan' })).headers['x-petrascore-reopened']).toBeUndefined();
    });

    it('answers 422 for a case that cannot be scored and keeps it open, unchanged, until it can', async () => {
      expectAck(await post(app, caseUrl('stuck', '/events'), { name: 'approve loan' }));
      const refused = await post(app, caseUrl('stuck', '/close'));
      expect(refused.statusCode, refused.body).toBe(422);
      expect(refused.json<ErrorBody>()).toEqual({ error: 'missing_attribute', message: MISSING, details: [{ path: 'params/id', message: MISSING }] });

      const list = await app.inject({ method: 'GET', url: '/cases' });
      expect(list.json<{ case_ids: string[] }>().case_ids).toContain('stuck');
      expect(expectAck(await post(app, caseUrl('stuck', '/events'), { name: 'x', attributes: { risk_score: '0.6' } }))).toEqual({ case_id: 'stuck', n_events: 2 });
      const closed = expectEvaluation(await post(app, caseUrl('stuck', '/close')), 'stuck', 2, true);
      expectScoreClose(closed, await reference(app, 0.6, ['approve loan']), 'close after repair');
    });

    it('GET /cases/:id scores without closing and changes nothing', async () => {
      expectAck(await post(app, caseUrl('peek', '/events'), { name: 'approve loan', attributes: { risk_score: '0.7' } }));
      const first = expectEvaluation(await app.inject({ method: 'GET', url: caseUrl('peek') }), 'peek', 1);
      const second = expectEvaluation(await app.inject({ method: 'GET', url: caseUrl('peek') }), 'peek', 1);
      expect(second).toEqual(first);
      expect(expectAck(await post(app, caseUrl('peek', '/events'), { name: 'x' })).n_events).toBe(2);
    });

    it('HEAD /cases/:id says whether the case is open without scoring it: nothing published, no alert', async () => {
      expectAck(await post(app, caseUrl('probe', '/events'), { name: 'decline loan', attributes: { risk_score: '0.9' } }));
      const published = app.live.bus.latestId;
      const open = await app.inject({ method: 'HEAD', url: caseUrl('probe') });
      expect([open.statusCode, open.body]).toEqual([200, '']);
      expect(open.headers['content-type']).toBe('application/json; charset=utf-8');
      // Not the length of a body it does not have: a GET's length is known only once the case is scored.
      expect(open.headers['content-length']).toBeUndefined();
      const notFound = async () => Number(/^petrascore_client_errors_total\{error="case_not_found"\} (\d+)$/m.exec((await app.inject({ method: 'GET', url: '/metrics' })).body)?.[1] ?? 0);
      const before = await notFound();
      expect((await app.inject({ method: 'HEAD', url: caseUrl('no-such-case') })).statusCode).toBe(404);
      // An answer to "is it open?", not a client's mistake; a GET of it is one.
      expect(await notFound()).toBe(before);
      expect((await app.inject({ method: 'GET', url: caseUrl('no-such-case') })).statusCode).toBe(404);
      expect(await notFound()).toBe(before + 1);
      expect(app.live.bus.latestId).toBe(published);
      // GET still scores (and publishes its evaluation).
      expectEvaluation(await app.inject({ method: 'GET', url: caseUrl('probe') }), 'probe', 1);
      expect(app.live.bus.latestId).toBeGreaterThan(published);
    });
  });

  describe('POST /events (process_stream)', () => {
    it('applies events for many cases in order and answers one entry per event, in order', async () => {
      const response = await post(app, '/events?score=true', {
        events: [
          { case_id: 'ps-1', name: 'approve loan', attributes: { risk_score: '0.9' } },
          { case_id: 'ps-2', name: 'decline loan' },
          { case_id: 'ps-1', name: 'decline loan' },
          { case_id: 'ps-2', name: 'x', attributes: { risk_score: '0.2' } },
        ],
      });
      expect(response.statusCode, response.body).toBe(200);
      const { accepted, results } = response.json<{ accepted: number; results: (Evaluation | Acknowledgement)[] }>();
      expect(accepted).toBe(4);
      expect(results.map((r) => [r.case_id, r.n_events])).toEqual([
        ['ps-1', 1],
        ['ps-2', 1],
        ['ps-1', 2],
        ['ps-2', 2],
      ]);
      expect(results[1]).toEqual({ case_id: 'ps-2', n_events: 1, not_scored: { reason: 'missing_attribute', attribute: 'risk_score', place: 'p_application', message: MISSING } });
      expectScoreClose(results[0] as Evaluation, await reference(app, 0.9, ['approve loan']), 'ps-1 #1');
      expectScoreClose(results[2] as Evaluation, await reference(app, 0.9, ['approve loan', 'decline loan']), 'ps-1 #2');
      expectScoreClose(results[3] as Evaluation, await reference(app, 0.2, ['decline loan']), 'ps-2 #2');
      // The same state the single-case routes see.
      expectEvaluation(await app.inject({ method: 'GET', url: caseUrl('ps-2') }), 'ps-2', 2);
    });

    it('says in an event\'s result that it opened a new case under an id that ended lately, as the single-event route\'s header does', async () => {
      expectAck(await post(app, caseUrl('re-closed', '/events'), { name: 'approve loan', attributes: { risk_score: '0.8' } }));
      expectEvaluation(await post(app, caseUrl('re-closed', '/close')), 're-closed', 1, true);
      expectAck(await post(app, caseUrl('re-deleted', '/events'), { name: 'approve loan' }));
      expect((await app.inject({ method: 'DELETE', url: caseUrl('re-deleted') })).statusCode).toBe(200);
      expectAck(await post(app, caseUrl('re-unscored', '/events'), { name: 'approve loan' }));
      expect((await app.inject({ method: 'DELETE', url: caseUrl('re-unscored') })).statusCode).toBe(200);

      const scored = await post(app, '/events?score=true', {
        events: [
          { case_id: 're-closed', name: 'approve loan', attributes: { risk_score: '0.9' } },
          { case_id: 're-deleted', name: 'approve loan' },
          { case_id: 're-closed', name: 'decline loan' },
          { case_id: 're-never', name: 'approve loan', attributes: { risk_score: '0.9' } },
        ],
      });
      expect(scored.statusCode, scored.body).toBe(200);
      const { results } = scored.json<{ results: (Evaluation & { reopened?: string })[] }>();
      expect(results.map((r) => [r.case_id, r.n_events, r.reopened])).toEqual([
        ['re-closed', 1, 'closed'],
        ['re-deleted', 1, 'deleted'],
        ['re-closed', 2, undefined],
        ['re-never', 1, undefined],
      ]);
      // A scored result is the evaluation with `reopened` beside it; an unscored one the acknowledgement.
      expectScoreClose(results[0]!, await reference(app, 0.9, ['approve loan']), 're-closed reopened');
      expect(Object.keys(results[0]!).sort()).toEqual(['case_id', 'closed', 'n_events', 'per_transition_residuals', 'reopened', 'trace_score']);
      expect(results[1]).toEqual({ case_id: 're-deleted', n_events: 1, not_scored: { reason: 'missing_attribute', attribute: 'risk_score', place: 'p_application', message: MISSING }, reopened: 'deleted' });
      expect(Object.keys(results[2]!)).not.toContain('reopened');

      const unscored = await post(app, '/events', { events: [{ case_id: 're-unscored', name: 'approve loan' }, { case_id: 're-unscored', name: 'x' }] });
      expect(unscored.json<{ results: Acknowledgement[] }>().results).toEqual([
        { case_id: 're-unscored', n_events: 1, reopened: 'deleted' },
        { case_id: 're-unscored', n_events: 2 },
      ]);
    });

    it('refuses a case id that no URL could address (a lone surrogate), with the path', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/events',
        headers: { 'content-type': 'application/json' },
        payload: '{"events":[{"case_id":"fine 😀","name":"x"},{"case_id":"lone\\ud800","name":"x"}]}',
      });
      expect(response.statusCode, response.body).toBe(400);
      const body = response.json<ErrorBody>();
      expect(body.details.map((d) => d.path)).toEqual(['body/events/1/case_id']);
      expect(body.message).toContain('well-formed Unicode');
      expect(app.cases.listCases(10, 'fine')).not.toContain('fine 😀');
    });

    it('counts an event a case limit refuses among the client errors, as the single-event route does', async () => {
      const limited = await testApp({ maxEventsPerCase: 1 });
      try {
        const errors = async () => /petrascore_client_errors_total\{error="max_events_per_case"\} (\d+)/.exec((await limited.inject({ method: 'GET', url: '/metrics' })).body)?.[1];
        const response = await post(limited, '/events', { events: [1, 2, 3].map(() => ({ case_id: 'busy', name: 'x' })) });
        expect(response.json<{ accepted: number }>().accepted).toBe(1);
        expect(await errors()).toBe('2');
        expect((await post(limited, caseUrl('busy', '/events'), { name: 'x' })).statusCode).toBe(422);
        expect(await errors()).toBe('3');
      } finally {
        await limited.close();
      }
    });
  });
});

describe('concurrent requests for one case', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('loses no update: 200 concurrent events leave n_events at 200, each acknowledged with its own count', async () => {
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => post(app, caseUrl('c1', '/events'), { name: `step ${i}`, attributes: { risk_score: '0.9', [`k${i % 5}`]: String(i) } })));
    const counts = replies.map((r) => expectAck(r).n_events).sort((a, b) => a - b);
    expect(counts).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expectEvaluation(await app.inject({ method: 'GET', url: caseUrl('c1') }), 'c1', 200);
  });

  it('scored concurrent replies have distinct n_events 1..200 and each reflects exactly the events acknowledged before it', async () => {
    const approveAt = 40;
    const declineAt = 150;
    const name = (i: number): string => (i === approveAt ? 'approve loan' : i === declineAt ? 'decline loan' : `noise ${i}`);
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => post(app, caseUrl('c2', '/events?score=true'), { name: name(i), attributes: { risk_score: '0.9' } })));
    const evaluations = replies.map((r) => {
      expect(r.statusCode, r.body).toBe(200);
      return r.json<Evaluation>();
    });
    expect(evaluations.map((e) => e.n_events).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));

    // The position each labelled event got; every reply from then on observes its label, none before.
    const approvedFrom = evaluations[approveAt]!.n_events;
    const declinedFrom = evaluations[declineAt]!.n_events;
    const refs = {
      none: await reference(app, 0.9, []),
      approve: await reference(app, 0.9, ['approve loan']),
      decline: await reference(app, 0.9, ['decline loan']),
      both: await reference(app, 0.9, ['approve loan', 'decline loan']),
    };
    for (const evaluation of evaluations) {
      const approved = evaluation.n_events >= approvedFrom;
      const declined = evaluation.n_events >= declinedFrom;
      const expected = approved && declined ? refs.both : approved ? refs.approve : declined ? refs.decline : refs.none;
      expectScoreClose(evaluation, expected, `reply with n_events ${evaluation.n_events}`);
    }
    const final = expectEvaluation(await app.inject({ method: 'GET', url: caseUrl('c2') }), 'c2', 200);
    expectScoreClose(final, refs.both, 'final');
  });

  it('a close racing with events either counts an event or leaves it to a fresh case, never both or neither', async () => {
    const event = (): Promise<LightMyRequestResponse> => post(app, caseUrl('race', '/events'), { name: 'x', attributes: { risk_score: '0.5' } });
    expectAck(await event());
    // The close carries a (meaningless) JSON body so that it goes through the same parsing as the events around it.
    const replies = await Promise.all([...Array.from({ length: 50 }, event), post(app, caseUrl('race', '/close'), {}), ...Array.from({ length: 50 }, event)]);
    const closed = expectEvaluation(replies[50]!, 'race', replies[50]!.json<Evaluation>().n_events, true);
    const acks = replies.filter((_, i) => i !== 50).map((r) => expectAck(r).n_events);
    const open = expectEvaluation(await app.inject({ method: 'GET', url: caseUrl('race') }), 'race', 101 - closed.n_events);
    expect(closed.n_events + open.n_events).toBe(101);
    // Acknowledged before the close: 2..closed (the seed was 1); after it, the fresh case's 1..open.
    const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
    expect(acks.sort((a, b) => a - b)).toEqual([...range(2, closed.n_events), ...range(1, open.n_events)].sort((a, b) => a - b));
  });
});

describe('GET /cases', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('lists open ids sorted by code unit, with the count, and follows closes', async () => {
    expect((await app.inject({ method: 'GET', url: '/cases' })).json<{ count: number; case_ids: string[] }>()).toEqual({ count: 0, case_ids: [] });
    for (const id of ['b', 'a', 'C', '10', '9', 'é']) await post(app, caseUrl(id, '/events'), { name: 'x', attributes: { risk_score: '0.5' } });
    const list = await app.inject({ method: 'GET', url: '/cases' });
    expect(list.statusCode).toBe(200);
    expect(list.json<{ count: number; case_ids: string[] }>()).toEqual({ count: 6, case_ids: ['10', '9', 'C', 'a', 'b', 'é'] });

    expect((await post(app, caseUrl('a', '/close'))).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/cases' })).json<{ count: number; case_ids: string[] }>()).toEqual({ count: 5, case_ids: ['10', '9', 'C', 'b', 'é'] });
  });
});
