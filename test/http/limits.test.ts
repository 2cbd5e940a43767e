import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { testApp } from '../helpers/app.js';
import { metricValue } from '../live/helpers.js';
import type { ErrorBody } from '../../src/schemas/common.js';

interface Evaluation {
  case_id: string;
  n_events: number;
  trace_score: number;
  per_transition_residuals: Record<string, number>;
  closed: boolean;
}

interface CaseList {
  count: number;
  case_ids: string[];
}

type StreamItem = Evaluation | { case_id: string; n_events: number; not_scored?: unknown } | { case_id: string; rejected: { limit: string; message: string } };

function expectError(response: LightMyRequestResponse, status: number, error: string): ErrorBody {
  expect(response.statusCode, response.body).toBe(status);
  const body = response.json<ErrorBody>();
  expect(Object.keys(body).sort()).toEqual(['details', 'error', 'message']);
  expect(body.error).toBe(error);
  return body;
}

function post(app: App, url: string, payload?: unknown): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url, payload: payload as InjectOptions['payload'] });
}

async function listCases(app: App, query = ''): Promise<CaseList> {
  const response = await app.inject({ method: 'GET', url: `/cases${query}` });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<CaseList>();
}

async function evaluation(app: App, caseId: string): Promise<Evaluation> {
  const response = await app.inject({ method: 'GET', url: `/cases/${encodeURIComponent(caseId)}` });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Evaluation>();
}

async function sendEvent(app: App, caseId: string, name: string, attributes?: Record<string, string>): Promise<{ case_id: string; n_events: number }> {
  const response = await post(app, `/cases/${encodeURIComponent(caseId)}/events`, attributes === undefined ? { name } : { name, attributes });
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ case_id: string; n_events: number }>();
}

const events = (n: number, caseId = 'c'): { case_id: string; name: string; attributes: Record<string, string> }[] =>
  Array.from({ length: n }, () => ({ case_id: caseId, name: 'approve loan', attributes: { risk_score: '0.9' } }));

describe('maxResidualsPerRequest (413 too_many_items): traces or scored events × scored transitions', () => {
  let app: App;
  beforeAll(async () => {
    // The default bundle scores two transitions: two traces make four residuals, three make six.
    app = await testApp({ maxResidualsPerRequest: 4 });
  });
  afterAll(async () => app.close());

  it('POST /anomaly/batch: 2 traces pass, 3 are refused with the product spelt out', async () => {
    const trace = { events: [{ name: 'approve loan' }], input_marking: { p_application: 0.9 } };
    expect((await post(app, '/anomaly/batch', { traces: [trace, trace] })).statusCode).toBe(200);
    const body = expectError(await post(app, '/anomaly/batch', { traces: [trace, trace, trace] }), 413, 'too_many_items');
    expect(body.message).toBe('body/traces has 6 residuals to answer (3 traces × 2 scored transitions), more than the 4 allowed in one request (--max-residuals-per-request)');
    expect(body.details[0]!.path).toBe('body/traces');
  });

  it('POST /events: scored events count, unscored ones do not', async () => {
    const body = expectError(await post(app, '/events?score=true', { events: events(3, 'scored') }), 413, 'too_many_items');
    expect(body.message).toContain('(3 scored events × 2 scored transitions)');
    expect((await app.inject({ method: 'GET', url: '/cases/scored' })).statusCode).toBe(404);
    const unscored = await post(app, '/events', { events: events(3, 'unscored') });
    expect(unscored.statusCode, unscored.body).toBe(200);
  });
});

describe('maxEventsPerRequest (413 too_many_items, nothing applied)', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ maxEventsPerRequest: 3 });
  });
  afterAll(async () => app.close());

  it('POST /events: 3 events pass, 4 are refused whole', async () => {
    const ok = await post(app, '/events', { events: events(3, 'ok') });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json<{ accepted: number }>().accepted).toBe(3);

    const body = expectError(await post(app, '/events', { events: events(4, 'too-many') }), 413, 'too_many_items');
    expect(body.message).toBe('body/events has 4 events, more than the 3 allowed in one request (--max-events-per-request)');
    expect(body.details).toEqual([{ path: 'body/events', message: body.message }]);
    // None of the four was applied.
    expect((await app.inject({ method: 'GET', url: '/cases/too-many' })).statusCode).toBe(404);
    expect((await listCases(app)).case_ids).toEqual(['ok']);
  });

  it('POST /anomaly/batch: 3 traces pass, 4 are refused', async () => {
    const trace = { events: [{ name: 'approve loan' }], input_marking: { p_application: 0.9 } };
    const ok = await post(app, '/anomaly/batch', { traces: [trace, trace, trace] });
    expect(ok.statusCode, ok.body).toBe(200);
    const body = expectError(await post(app, '/anomaly/batch', { traces: [trace, trace, trace, trace] }), 413, 'too_many_items');
    expect(body.details[0]!.path).toBe('body/traces');
    expect(body.message).toContain('4 traces');
  });

  it('POST /anomaly: 3 events pass, 4 are refused', async () => {
    const ok = await post(app, '/anomaly', { events: events(3), input_marking: {} });
    expect(ok.statusCode, ok.body).toBe(200);
    const body = expectError(await post(app, '/anomaly', { events: events(4), input_marking: {} }), 413, 'too_many_items');
    expect(body.details[0]!.path).toBe('body/events');
  });

  it.each([
    { url: '/anomaly', extra: { events: [] } },
    { url: '/forward', extra: {} },
    { url: '/sensitivity', extra: { target_transition: 't_approve' } },
    { url: '/counterfactual', extra: { flip_place: 'p_application', target_transition: 't_approve' } },
  ])('$url: 3 keys in input_marking or input_values pass, 4 are refused', async ({ url, extra }) => {
    const keys = (n: number) => Object.fromEntries([['p_application', 0.9], ...Array.from({ length: n - 1 }, (_, i) => [`unknown_${i}`, 1])]);
    const ok = await post(app, url, { ...extra, input_marking: keys(3), input_values: keys(3) });
    expect(ok.statusCode, ok.body).toBe(200);
    for (const field of ['input_marking', 'input_values']) {
      const body = expectError(await post(app, url, { ...extra, input_marking: keys(3), [field]: keys(4) }), 413, 'too_many_items');
      expect(body.message).toBe(`body/${field} has 4 inputs, more than the 3 allowed in one request (--max-events-per-request)`);
      expect(body.details[0]!.path).toBe(`body/${field}`);
    }
  });

  it('a batch item with too many events gets its own error entry; the others are scored', async () => {
    const good = { events: [{ name: 'approve loan' }], input_marking: { p_application: 0.9 } };
    const response = await post(app, '/anomaly/batch', { traces: [good, { events: events(4), input_marking: {} }, good] });
    expect(response.statusCode, response.body).toBe(200);
    const { results, scored, errors } = response.json<{ results: ({ index: number; error: ErrorBody } | { index: number; trace_score: number })[]; scored: number; errors: number }>();
    expect({ scored, errors }).toEqual({ scored: 2, errors: 1 });
    const bad = results[1];
    if (bad === undefined || !('error' in bad)) return expect.fail(`expected an error entry, got ${JSON.stringify(bad)}`);
    expect(bad.error.error).toBe('too_many_items');
    expect(bad.error.details[0]!.path).toBe('body/traces/1/events');
    // The words name the item's own path too, not /anomaly's.
    expect(bad.error.message.startsWith('body/traces/1/events has 4 events')).toBe(true);
    expect(bad.error.details[0]!.message.startsWith('body/traces/1/events has 4 events')).toBe(true);
    expect(results.filter((r) => 'trace_score' in r).map((r) => r.index)).toEqual([0, 2]);
  });
});

// A case keeps the attributes the default bundle's spec reads (risk_score) and the lane attribute (host here): the
// per-case limits count those alone.
describe('maxAttributesPerCase (422, the case unchanged)', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ maxAttributesPerCase: 1, laneAttribute: 'host' });
  });
  afterAll(async () => app.close());

  it('refuses an event that would add a second kept attribute name, and leaves the case exactly as it was', async () => {
    await sendEvent(app, 'attrs', 'decline loan', { risk_score: '0.9', channel: 'web' });
    const before = await evaluation(app, 'attrs');
    expect(before.n_events).toBe(1);

    // The refused event would change risk_score, add a label and a second name: none of it may stick.
    const refused = expectError(await post(app, '/cases/attrs/events', { name: 'approve loan', attributes: { risk_score: '0.1', host: 'x' } }), 422, 'max_attributes_per_case');
    expect(refused.message).toBe("case 'attrs' would have 2 attributes, more than the 1 one case may have");
    expect(refused.details[0]!.path).toBe('body/attributes');
    expect(await evaluation(app, 'attrs')).toEqual(before);

    // Also when scoring was asked for.
    expectError(await post(app, '/cases/attrs/events?score=true', { name: 'approve loan', attributes: { host: '1' } }), 422, 'max_attributes_per_case');
    expect(await evaluation(app, 'attrs')).toEqual(before);

    // Overwriting the names it has is fine (latest wins) and counts.
    const updated = await sendEvent(app, 'attrs', 'decline loan', { risk_score: '0.1', channel: 'app' });
    expect(updated.n_events).toBe(2);
    const after = await evaluation(app, 'attrs');
    expect(after.n_events).toBe(2);
    expect(after.trace_score).not.toBe(before.trace_score);
  });

  it('refuses a new case whose first event already has too many attributes, creating nothing', async () => {
    expectError(await post(app, '/cases/fat/events', { name: 'x', attributes: { risk_score: '1', host: '2', c: '3' } }), 422, 'max_attributes_per_case');
    expect((await app.inject({ method: 'GET', url: '/cases/fat' })).statusCode).toBe(404);
  });

  it('POST /events reports the refused event as a rejection entry and applies the rest', async () => {
    const response = await post(app, '/events', {
      events: [
        { case_id: 's1', name: 'approve loan', attributes: { risk_score: '0.9' } },
        { case_id: 's1', name: 'decline loan', attributes: { risk_score: '1', host: '2' } },
        { case_id: 's1', name: 'decline loan', attributes: { risk_score: '1', a: '1' } },
      ],
    });
    expect(response.statusCode, response.body).toBe(200);
    const { accepted, results } = response.json<{ accepted: number; results: StreamItem[] }>();
    expect(accepted).toBe(2);
    expect(results).toEqual([
      { case_id: 's1', n_events: 1 },
      { case_id: 's1', rejected: { limit: 'max_attributes_per_case', message: "case 's1' would have 2 attributes, more than the 1 one case may have" } },
      { case_id: 's1', n_events: 2 },
    ]);
  });

  it('keeps no attribute that nothing reads: any number of them, of any size, count for nothing', async () => {
    const unread = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`variable_${i}`, 'v'.repeat(1000)]));
    expect((await sendEvent(app, 'unread', 'approve loan', { ...unread, risk_score: '0.9' })).n_events).toBe(1);
    const chars = async () => metricValue((await app.inject({ method: 'GET', url: '/metrics' })).body, 'petrascore_case_attribute_chars');
    const held = await chars();
    // What the open cases of this block hold: risk_score and its value each, 'unread' among them with 13.
    expect(held).toBeLessThan(100);
    expect((await app.inject({ method: 'POST', url: '/cases/unread/close' })).statusCode).toBe(200);
    expect(await chars()).toBe(held - 13);
  });
});

describe('maxAttributeCharsPerCase (422, the case unchanged)', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ maxAttributeCharsPerCase: 100, laneAttribute: 'host' });
  });
  afterAll(async () => app.close());

  it('refuses an event whose names and values would take the case beyond the limit, across events, and counts a replaced value once', async () => {
    // risk_score (10) + '0.9' (3) + host (4) + 80 characters: 97; the unread note counts nothing.
    await sendEvent(app, 'chars', 'decline loan', { risk_score: '0.9', host: 'n'.repeat(80), note: 'n'.repeat(500) });
    const before = await evaluation(app, 'chars');

    // A value that alone is short: the case's other attributes count too (97 - 3 + 9).
    const refused = expectError(await post(app, '/cases/chars/events', { name: 'approve loan', attributes: { risk_score: '0.1000000' } }), 422, 'max_attribute_chars_per_case');
    expect(refused.message).toBe("case 'chars' would hold 103 characters of attribute names and values, more than the 100 one case may hold");
    expect(refused.details[0]!.path).toBe('body/attributes');
    expect(await evaluation(app, 'chars')).toEqual(before);

    // Replacing a value counts the new one instead of the old, however often: 97 - 80 + 83 = 100.
    for (let i = 0; i < 3; i++) expect((await sendEvent(app, 'chars', 'decline loan', { host: 'm'.repeat(83) })).n_events).toBe(2 + i);
    expectError(await post(app, '/cases/chars/events', { name: 'x', attributes: { host: 'm'.repeat(84) } }), 422, 'max_attribute_chars_per_case');

    // A structured value counts as the str() the case keeps of it, cut short, not as its size in the body.
    const nested = { name: 'x', attributes: { risk_score: '0.9', host: Array.from({ length: 10_000 }, () => 1) } };
    expectError(await post(app, '/cases/nested/events', nested), 422, 'max_attribute_chars_per_case');
    expect((await app.inject({ method: 'HEAD', url: '/cases/nested' })).statusCode).toBe(404);
    expect((await post(app, '/cases/nested/events', { name: 'x', attributes: { risk_score: '0.9', host: [1, 2, 3] } })).statusCode).toBe(202);
    expect((await post(app, '/cases/nested/events', { name: 'x', attributes: { host: [1, 2, 3, 4] } })).json()).toEqual({ case_id: 'nested', n_events: 2 });
  });

  it('counts UTF-16 code units, as the README says: an emoji counts two', async () => {
    // host (4) + 48 emoji (96 code units) + a: 101.
    const refused = expectError(await post(app, '/cases/emoji/events', { name: 'x', attributes: { host: '😀'.repeat(48) + 'a' } }), 422, 'max_attribute_chars_per_case');
    expect(refused.message).toBe("case 'emoji' would hold 101 characters of attribute names and values, more than the 100 one case may hold");
    expect((await post(app, '/cases/emoji/events', { name: 'x', attributes: { host: '😀'.repeat(48) } })).statusCode).toBe(202);
  });

  it('counts an attribute nothing reads as nothing, however long its name; a kept one is refused alike in POST /events', async () => {
    expect((await post(app, '/cases/names/events', { name: 'x', attributes: { ['k'.repeat(101)]: 'v'.repeat(101) } })).statusCode).toBe(202);
    const response = await post(app, '/events', { events: [{ case_id: 'names', name: 'x', attributes: { host: 'h'.repeat(97) } }] });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json<{ accepted: number; results: StreamItem[] }>().results).toEqual([
      { case_id: 'names', rejected: { limit: 'max_attribute_chars_per_case', message: "case 'names' would hold 101 characters of attribute names and values, more than the 100 one case may hold" } },
    ]);
  });
});

describe('maxEventsPerCase (422 until the case is closed)', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ maxEventsPerCase: 3 });
  });
  afterAll(async () => app.close());

  it('refuses the fourth event, keeps n_events at 3, and a close frees the id for a fresh case', async () => {
    for (let i = 1; i <= 3; i++) expect((await sendEvent(app, 'long', 'approve loan', { risk_score: '0.9' })).n_events).toBe(i);
    const body = expectError(await post(app, '/cases/long/events', { name: 'decline loan' }), 422, 'max_events_per_case');
    expect(body.message).toBe("case 'long' already has 3 events, and 3 is the most one case may have; close it, or delete it if it cannot be scored");
    expect(body.details[0]!.path).toBe('params/id');
    const open = await evaluation(app, 'long');
    expect(open.n_events).toBe(3);

    const closed = await post(app, '/cases/long/close');
    expect(closed.statusCode, closed.body).toBe(200);
    const final = closed.json<Evaluation>();
    expect({ n_events: final.n_events, closed: final.closed }).toEqual({ n_events: 3, closed: true });
    // The refused decline never counted.
    expect(final.per_transition_residuals).toEqual(open.per_transition_residuals);

    expect((await sendEvent(app, 'long', 'decline loan')).n_events).toBe(1);
  });

  it('a full case that cannot be scored (its attribute never came) is not stuck: DELETE drops it, published and counted', async () => {
    for (let i = 1; i <= 3; i++) expect((await sendEvent(app, 'stuck', 'approve loan')).n_events).toBe(i);
    expectError(await post(app, '/cases/stuck/events', { name: 'x', attributes: { risk_score: '0.5' } }), 422, 'max_events_per_case');
    expectError(await post(app, '/cases/stuck/close'), 422, 'missing_attribute');
    const feedBefore = app.live.bus.latestId;
    const deleted = await app.inject({ method: 'DELETE', url: '/cases/stuck' });
    expect(deleted.statusCode, deleted.body).toBe(200);
    expect(deleted.json()).toEqual({ case_id: 'stuck', n_events: 3 });
    expect((await app.inject({ method: 'HEAD', url: '/cases/stuck' })).statusCode).toBe(404);
    expect((await listCases(app)).case_ids).not.toContain('stuck');
    expect(app.live.bus.ring.get(feedBefore + 1)?.event).toMatchObject({ type: 'case_evicted', case_id: 'stuck', n_events: 3, reason: 'deleted' });
    expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/^petrascore_case_evictions_total\{reason="deleted"\} 1$/m);
    expectError(await app.inject({ method: 'DELETE', url: '/cases/stuck' }), 404, 'case_not_found');
    // The id is free: the next event opens a fresh case.
    expect((await sendEvent(app, 'stuck', 'approve loan', { risk_score: '0.9' })).n_events).toBe(1);
  });
});

// One scenario on one app: each test starts from the cases the one before left (vitest --sequence.shuffle broke two).
describe('maxOpenCases (the least recently touched case is evicted)', { shuffle: false }, () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ maxOpenCases: 3, maxAttributesPerCase: 1, laneAttribute: 'host' });
  });
  afterAll(async () => app.close());

  it('evicts the case touched longest ago, keeps the others, and GET /cases shows which', async () => {
    await sendEvent(app, 'a', 'approve loan');
    await sendEvent(app, 'b', 'approve loan');
    await sendEvent(app, 'c', 'approve loan');
    // Touching a makes b the least recently touched.
    expect((await sendEvent(app, 'a', 'decline loan')).n_events).toBe(2);
    expect(await listCases(app)).toEqual({ count: 3, case_ids: ['a', 'b', 'c'] });

    await sendEvent(app, 'd', 'approve loan');
    expect(await listCases(app)).toEqual({ count: 3, case_ids: ['a', 'c', 'd'] });
    expect((await app.inject({ method: 'GET', url: '/cases/b' })).statusCode).toBe(404);

    // The survivors kept their state; an evicted id comes back as a fresh case.
    expect((await sendEvent(app, 'a', 'approve loan')).n_events).toBe(3);
    expect((await sendEvent(app, 'b', 'approve loan')).n_events).toBe(1);
    expect(await listCases(app)).toEqual({ count: 3, case_ids: ['a', 'b', 'd'] });
  });

  it('does not evict anyone for a new case whose event is refused by another limit', async () => {
    const before = await listCases(app);
    expect(before.count).toBe(3);
    expectError(await post(app, '/cases/refused/events', { name: 'x', attributes: { risk_score: '1', host: '2' } }), 422, 'max_attributes_per_case');
    expect(await listCases(app)).toEqual(before);
  });

  it('a closed case frees its slot without evicting another', async () => {
    await sendEvent(app, 'e', 'x', { risk_score: '0.5' });
    const { case_ids } = await listCases(app);
    expect(case_ids).toHaveLength(3);
    expect((await post(app, '/cases/e/close')).statusCode).toBe(200);
    await sendEvent(app, 'f', 'x');
    expect(await listCases(app)).toEqual({ count: 3, case_ids: [...case_ids.filter((id) => id !== 'e'), 'f'].sort() });
  });
});

describe("maxAttributeChars (the open cases' attributes together: the least recently touched cases are evicted)", { shuffle: false }, () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ maxAttributeCharsPerCase: 100, maxAttributeChars: 250, laneAttribute: 'host', liveStatsIntervalMs: 0 });
  });
  afterAll(async () => app.close());

  const scrape = async (name: string): Promise<number> => metricValue((await app.inject({ method: 'GET', url: '/metrics' })).body, name);
  const evictions = async (): Promise<number> => scrape('petrascore_case_evictions_total{reason="attribute_capacity"}');

  it('evicts the cases touched longest ago until the attributes fit, never the case the event went to', async () => {
    // host (4) + 96 characters: 100 each for a and b, 40 for c; 240 in all.
    await sendEvent(app, 'a', 'approve loan', { host: 'a'.repeat(96) });
    await sendEvent(app, 'b', 'approve loan', { host: 'b'.repeat(96) });
    await sendEvent(app, 'c', 'approve loan', { host: 'c'.repeat(36) });
    // An event without attributes touches a: b is now the least recently touched, then c.
    await sendEvent(app, 'a', 'decline loan');
    expect(await scrape('petrascore_case_attribute_chars')).toBe(240);

    // d's 20 characters take the open cases to 260: b goes, and 160 remain.
    await sendEvent(app, 'd', 'approve loan', { host: 'd'.repeat(16) });
    expect(await listCases(app)).toEqual({ count: 3, case_ids: ['a', 'c', 'd'] });
    expect(await scrape('petrascore_case_attribute_chars')).toBe(160);
    expect(await evictions()).toBe(1);
    const gone = expectError(await app.inject({ method: 'GET', url: '/cases/b' }), 404, 'case_not_found');
    expect(gone.message).toMatch(/^no open case 'b': it was evicted \(attribute capacity\) \d+ s ago, after 1 event; an event under this id starts a new case$/);

    // One event can take several: d growing to 100 characters (240 in all) and then e's 100 (340) evict c and a.
    await sendEvent(app, 'd', 'approve loan', { host: 'd'.repeat(96) });
    const reopened = await post(app, '/cases/e/events', { name: 'approve loan', attributes: { host: 'e'.repeat(96) } });
    expect(reopened.statusCode, reopened.body).toBe(202);
    expect(await listCases(app)).toEqual({ count: 2, case_ids: ['d', 'e'] });
    expect(await scrape('petrascore_case_attribute_chars')).toBe(200);
    expect(await evictions()).toBe(3);

    // An id evicted this way comes back as a fresh case, told how the old one ended.
    const back = await post(app, '/cases/b/events', { name: 'approve loan' });
    expect(back.statusCode, back.body).toBe(202);
    expect(back.headers['x-petrascore-reopened']).toBe('evicted (attribute capacity)');
  });

  it('passes over the cases that hold no attributes: evicting them would free nothing', async () => {
    for (const id of app.cases.listCases(100)) expect((await app.inject({ method: 'DELETE', url: `/cases/${id}` })).statusCode).toBe(200);
    await sendEvent(app, 'bare', 'approve loan');
    await sendEvent(app, 'full', 'approve loan', { host: 'f'.repeat(96) });
    await sendEvent(app, 'half', 'approve loan', { host: 'h'.repeat(96) });
    // 300 in all: full goes, bare (older, holding nothing) stays.
    await sendEvent(app, 'more', 'approve loan', { host: 'm'.repeat(96) });
    expect(await listCases(app)).toEqual({ count: 3, case_ids: ['bare', 'half', 'more'] });
    expect(await scrape('petrascore_case_attribute_chars')).toBe(200);
    for (const id of ['bare', 'half', 'more']) expect((await app.inject({ method: 'DELETE', url: `/cases/${id}` })).statusCode).toBe(200);
  });

  it("gives back a case's characters when it is closed or deleted, and evicts no one for a refused event", async () => {
    const before = await scrape('petrascore_case_attribute_chars');
    await sendEvent(app, 'f', 'approve loan', { risk_score: '0.5' });
    expect(await scrape('petrascore_case_attribute_chars')).toBe(before + 13);
    expect((await post(app, '/cases/f/close')).statusCode).toBe(200);
    expect(await scrape('petrascore_case_attribute_chars')).toBe(before);

    await sendEvent(app, 'g', 'approve loan', { host: 'g' });
    expect((await app.inject({ method: 'DELETE', url: '/cases/g' })).statusCode).toBe(200);
    expect(await scrape('petrascore_case_attribute_chars')).toBe(before);

    const open = await listCases(app);
    const evicted = await evictions();
    expectError(await post(app, '/cases/h/events', { name: 'x', attributes: { host: 'h'.repeat(200) } }), 422, 'max_attribute_chars_per_case');
    expect(await listCases(app)).toEqual(open);
    expect(await evictions()).toBe(evicted);
  });
});

describe('idle eviction (caseIdleTimeoutSeconds)', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ caseIdleTimeoutSeconds: 1 });
  });
  afterAll(async () => app.close());

  it('evicts a case idle for longer than the timeout at the next sweep, keeps a recent one, and counts it', async () => {
    await sendEvent(app, 'sleepy', 'approve loan', { risk_score: '0.9' });
    expect((await listCases(app)).case_ids).toEqual(['sleepy']);
    // Timeout 1 s; the sweep runs every timeout/10 = 100 ms (src/plugins/cases.ts).
    await new Promise((resolve) => setTimeout(resolve, 1300));
    await sendEvent(app, 'awake', 'approve loan');
    // At least one more sweep after 'awake' arrived: it must survive it.
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await listCases(app)).toEqual({ count: 1, case_ids: ['awake'] });
    expect((await app.inject({ method: 'GET', url: '/cases/sleepy' })).statusCode).toBe(404);
    expect((await post(app, '/cases/sleepy/close')).statusCode).toBe(404);

    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^petrascore_case_evictions_total\{reason="idle"\} 1$/m);
  });
});

describe('GET /cases paging', () => {
  let app: App;
  const ids = ['c3', 'a1', 'e5', 'b2', 'd4', 'B0', '10', '9'];
  // Code-unit order: digits, then upper case, then lower case; '10' before '9'.
  const sorted = ['10', '9', 'B0', 'a1', 'b2', 'c3', 'd4', 'e5'];

  beforeAll(async () => {
    app = await testApp();
    for (const id of ids) await sendEvent(app, id, 'approve loan');
  });
  afterAll(async () => app.close());

  it('lists all ids sorted with the count by default', async () => {
    expect(await listCases(app)).toEqual({ count: 8, case_ids: sorted });
  });

  it('pages with limit and after, the count always being all open cases', async () => {
    expect(await listCases(app, '?limit=3')).toEqual({ count: 8, case_ids: ['10', '9', 'B0'] });
    expect(await listCases(app, '?limit=3&after=B0')).toEqual({ count: 8, case_ids: ['a1', 'b2', 'c3'] });
    expect(await listCases(app, '?limit=3&after=c3')).toEqual({ count: 8, case_ids: ['d4', 'e5'] });
    expect(await listCases(app, '?limit=3&after=e5')).toEqual({ count: 8, case_ids: [] });
    // `after` need not be an open id.
    expect(await listCases(app, '?after=b')).toEqual({ count: 8, case_ids: ['b2', 'c3', 'd4', 'e5'] });
    expect(await listCases(app, '?limit=1&after=')).toEqual({ count: 8, case_ids: ['10'] });
  });

  it('walks every page exactly once', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const { case_ids } = await listCases(app, `?limit=3${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`);
      if (case_ids.length === 0) break;
      seen.push(...case_ids);
      after = case_ids.at(-1);
    }
    expect(seen).toEqual(sorted);
  });

  it('refuses a limit out of range', async () => {
    for (const limit of ['0', '100001', 'x', '-3']) {
      expectError(await app.inject({ method: 'GET', url: `/cases?limit=${limit}` }), 400, 'validation_error');
    }
  });
});
