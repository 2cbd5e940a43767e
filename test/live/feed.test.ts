import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/options.js';
import { listening, metricValue, postJson, type Listening } from './helpers.js';
import { SseClient, type LiveJson } from './sse-client.js';

const APPROVE = { name: 'approve loan', attributes: { risk_score: '0.9' } };
/** No events at all under a high risk score: the model expected "approve loan" (~1.0), so the score is ~1 and alerts. */
const ANOMALOUS = { input_marking: { p_application: 0.9 }, events: [] };

let servers: Listening[] = [];
let clients: SseClient[] = [];

async function serve(overrides: Parameters<typeof listening>[0] = {}): Promise<Listening> {
  const server = await listening(overrides);
  servers.push(server);
  return server;
}

async function open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await SseClient.open(url, headers);
  clients.push(client);
  return client;
}

afterEach(async () => {
  for (const client of clients) client.close();
  await Promise.all(servers.map((s) => s.app.close()));
  servers = [];
  clients = [];
});

/** Waits until the client has a message with this id (or later). */
async function receivedUpTo(client: SseClient, id: number): Promise<void> {
  await client.until(() => client.reached(id), 5000, `event ${id}`);
}

/** /proc/net/tcp's code for FIN-WAIT-1: closed by this side, its unsent data and FIN not yet taken by the peer. */
const FIN_WAIT_1 = '04';

/** How many of the server's own connections (local port = its port) /proc/net/tcp lists in `state`. */
function serverSocketsIn(url: string, state: string): number {
  const port = Number(new URL(url).port).toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1]?.endsWith(`:${port}`) && fields[3] === state).length;
}

function busEvents(client: SseClient): LiveJson[] {
  return client.events.filter((e) => e.type !== 'snapshot' && e.type !== 'gap');
}

describe('GET /live on a listening server', () => {
  it('starts with a snapshot, then sends every event in order with consecutive ids on the id/event lines', async () => {
    const { url, app } = await serve();
    const client = await open(`${url}/live`);
    expect(client.status).toBe(200);
    expect(client.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(client.response.headers['cache-control']).toContain('no-cache');

    const snapshot = await client.next();
    // Ids are this instance's: they start at a random place of its own (bus.test.ts), so no other instance issued them.
    const base = snapshot.id as number;
    expect(base).toBe(app.live.bus.ring.startsAfter);
    expect(base).toBeGreaterThanOrEqual(2 ** 50);
    expect(snapshot).toMatchObject({ type: 'snapshot', open_cases: 0, cases: [], alerts: [], scenario: 'onnx_deployment', alert_threshold: 0.5 });
    expect(client.retry).toBe(1000);
    // The stream the snapshot opens counts among the subscribers, as in /live/snapshot asked meanwhile.
    expect(snapshot.stats).toMatchObject({ subscribers: 1 });
    const second = await open(`${url}/live`);
    expect((await second.next()).stats).toMatchObject({ subscribers: 2 });
    expect(((await (await fetch(`${url}/live/snapshot`)).json()) as LiveJson).stats).toMatchObject({ subscribers: 2 });

    expect((await postJson(url, '/cases/a/events?score=true', APPROVE)).status).toBe(200);
    expect((await postJson(url, '/anomaly', ANOMALOUS)).status).toBe(200);
    expect((await postJson(url, '/cases/a/close', undefined)).status).toBe(200);
    const events = await client.nextUntil((e) => e.type === 'case_closed');

    expect(events.map((e) => e.type)).toEqual(['case_opened', 'evaluation', 'evaluation', 'alert', 'evaluation', 'case_closed']);
    expect(events.map((e) => (e.id as number) - base)).toEqual([1, 2, 3, 4, 5, 6]);
    const wire = client.messages.slice(1, 7);
    expect(wire.map((m) => m.id)).toEqual([1, 2, 3, 4, 5, 6].map((n) => String(base + n)));
    expect(wire.map((m) => m.event)).toEqual(events.map((e) => e.type));
    for (const event of events) expect(Date.parse(event.ts)).toBeGreaterThan(0);

    const [opened, first, stateless, alert, last, closed] = events;
    expect(opened).toMatchObject({ case_id: 'a', lane: 'onnx_deployment' });
    expect(first).toMatchObject({ case_id: 'a', source: 'stream_event', n_events: 1, closed: false });
    expect(first).not.toHaveProperty('alert');
    expect((first!.top as unknown[]).length).toBe(2);
    expect(stateless).toMatchObject({ source: 'anomaly', n_events: 0, alert: true });
    expect(stateless!.case_id).toMatch(/^req-/);
    expect(alert).toMatchObject({ evaluation_id: base + 3, case_id: stateless!.case_id, threshold: 0.5 });
    expect(last).toMatchObject({ case_id: 'a', source: 'case_close', closed: true });
    expect(closed).toMatchObject({ case_id: 'a', n_events: 1, trace_score: last!.trace_score });

    // The evaluation event carries the response's numbers.
    const scored = await app.inject({ method: 'POST', url: '/anomaly', payload: ANOMALOUS });
    const published = (await client.next()) as LiveJson & { trace_score: number; top: { id: string; residual: number; activation: number }[] };
    expect(published.trace_score).toBe(scored.json<{ trace_score: number }>().trace_score);
    expect(published.top[0]).toEqual({ id: 't_approve', label: 'approve loan', residual: scored.json<{ per_transition_residuals: Record<string, number> }>().per_transition_residuals.t_approve, activation: published.top[0]!.residual, observed: 0 });
  });

  it('a reconnect with Last-Event-ID receives exactly the missed events, and no snapshot', async () => {
    const { url, app } = await serve();
    const base = app.live.bus.ring.startsAfter;
    const reference = await open(`${url}/live`);
    const first = await open(`${url}/live`);
    for (const id of ['r1', 'r2']) await postJson(url, `/cases/${id}/events?score=true`, APPROVE);
    await receivedUpTo(first, base + 4);
    first.close();
    const seen = Math.max(...first.messages.map((m) => Number(m.id)));
    expect(seen).toBe(base + 4);

    // Missed while away: cases, evaluations, an alert, a close.
    await postJson(url, '/anomaly', ANOMALOUS);
    await postJson(url, '/events?score=true', { events: [{ case_id: 'r3', ...APPROVE }, { case_id: 'r1', name: 'decline loan' }] });
    await postJson(url, '/cases/r2/close', undefined);

    const resumed = await open(`${url}/live`, { 'last-event-id': String(seen) });
    const viaQuery = await open(`${url}/live?last_event_id=${seen}`);
    await postJson(url, '/cases/marker/events', APPROVE);
    for (const client of [reference, resumed, viaQuery]) await client.until(() => client.events.some((e) => e.type === 'case_opened' && e.case_id === 'marker'), 5000, 'the marker');

    const expected = reference.messages.filter((m) => m.event !== 'snapshot' && Number(m.id) > seen);
    expect(expected.length).toBeGreaterThan(6);
    expect(resumed.messages).toEqual(expected);
    expect(viaQuery.messages).toEqual(expected);
    expect(busEvents(reference).map((e) => e.id)).toEqual(Array.from({ length: busEvents(reference).length }, (_, i) => base + i + 1));
  });

  it('an id older than the ring gets a gap and then a snapshot; an id this server never issued too', async () => {
    const { url, app } = await serve({ liveRingSize: 16 });
    const base = app.live.bus.ring.startsAfter;
    const id = (n: number) => base + n;
    for (let i = 0; i < 10; i++) await postJson(url, `/cases/g${i}/events?score=true`, APPROVE);
    // 10 case_opened + 10 evaluations: ids base+1..base+20, the ring holds base+5..base+20.
    const expired = await open(`${url}/live`, { 'last-event-id': String(id(2)) });
    const [gap, snapshot] = [await expired.next(), await expired.next()];
    expect(gap).toEqual({ type: 'gap', id: id(20), ts: gap.ts, requested: String(id(2)), oldest: id(5), reason: 'expired' });
    expect(snapshot).toMatchObject({ type: 'snapshot', id: id(20), open_cases: 10 });
    expect((snapshot.cases as unknown[]).length).toBe(10);

    // The ring holds base+5..base+20, so a client that saw base+4 misses nothing.
    const edge = await open(`${url}/live`, { 'last-event-id': String(id(4)) });
    await postJson(url, '/cases/edge/events', APPROVE);
    const replayed = await edge.nextUntil((e) => e.case_id === 'edge');
    expect(replayed.map((e) => e.id)).toEqual(Array.from({ length: 17 }, (_, i) => id(i + 5)));

    // Ids this instance never issued: from the future, from before it started (another instance's), not a number.
    for (const bogus of [String(id(999)), '2', String(base - 5), 'not-a-number']) {
      const unknown = await open(`${url}/live`, { 'last-event-id': bogus });
      expect(await unknown.next()).toMatchObject({ type: 'gap', requested: bogus, reason: 'unknown' });
      expect(await unknown.next()).toMatchObject({ type: 'snapshot', id: id(21) });
    }
  });

  it('filters by type, lane, case and minimum score, in the feed and in the snapshot', async () => {
    const { url } = await serve({ laneAttribute: 'channel' });
    await postJson(url, '/cases/before/events?score=true', { name: 'approve loan', attributes: { risk_score: '0.9', channel: 'web' } });
    const all = await open(`${url}/live`);
    const alerts = await open(`${url}/live?types=alert`);
    const web = await open(`${url}/live?lane=web`);
    const branch = await open(`${url}/live?lane=branch&snapshot=false`);
    const one = await open(`${url}/live?case=c2`);
    const high = await open(`${url}/live?min_score=0.5&types=evaluation,alert,case_closed`);

    await postJson(url, '/events?score=true', {
      events: [
        { case_id: 'c1', name: 'approve loan', attributes: { risk_score: '0.9', channel: 'web' } },
        { case_id: 'c2', name: 'approve loan', attributes: { risk_score: '0.1', channel: 'branch' } },
        { case_id: 'c3', name: 'nothing', attributes: { risk_score: '0.9' } },
      ],
    });
    await postJson(url, '/anomaly', { events: [], attributes: { risk_score: '0.9', channel: 'web' } });
    await postJson(url, '/cases/c2/close', undefined);
    await postJson(url, '/cases/end/events', APPROVE);
    for (const client of [all, alerts, web, branch, one, high]) {
      await client.until(() => client.ended || client.messages.length > 0, 5000, 'anything');
    }
    await all.until(() => all.events.some((e) => e.case_id === 'end'), 5000, 'the end marker');

    const reference = busEvents(all);
    const lanes = new Set(reference.map((e) => e.lane));
    expect(lanes).toEqual(new Set(['web', 'branch', '(no channel)']));
    const expect_ = async (client: SseClient, keep: (e: LiveJson) => boolean) => {
      const expected = reference.filter(keep);
      expect(expected.length).toBeGreaterThan(0);
      await client.until(() => busEvents(client).length >= expected.length, 5000, `${expected.length} events`);
      expect(busEvents(client)).toEqual(expected);
    };
    await expect_(alerts, (e) => e.type === 'alert');
    await expect_(web, (e) => e.lane === 'web');
    await expect_(branch, (e) => e.lane === 'branch');
    await expect_(one, (e) => e.case_id === 'c2');
    await expect_(high, (e) => ['evaluation', 'alert', 'case_closed'].includes(e.type) && (e.trace_score as number) >= 0.5);
    expect(busEvents(alerts).map((e) => e.lane).sort()).toEqual(['(no channel)', 'branch', 'web']);

    // Snapshots are filtered the same way.
    const webSnapshot = web.events[0]!;
    expect(webSnapshot.type).toBe('snapshot');
    expect((webSnapshot.cases as { case_id: string }[]).map((c) => c.case_id)).toEqual(['before']);
    expect(branch.events[0]?.type).not.toBe('snapshot');
    const snapshot = (await (await fetch(`${url}/live/snapshot?lane=web`)).json()) as { cases: { case_id: string }[]; stateless: { lane: string }[]; lane_attribute: string };
    expect(snapshot.cases.map((c) => c.case_id)).toEqual(['before', 'c1']);
    expect(snapshot.stateless.map((l) => l.lane)).toEqual(['web']);
    expect(snapshot.lane_attribute).toBe('channel');

    const bad = await fetch(`${url}/live?types=evaluation,nonsense`);
    expect(bad.status).toBe(400);
    const refused = (await bad.json()) as { error: string; message: string };
    expect(refused.error).toBe('validation_error');
    // In words, not the pattern's regex.
    expect(refused.message).toBe('querystring/types: Expected a comma-separated list of evaluation, alert, case_opened, case_closed, case_evicted, stats, got "evaluation,nonsense"');
    // A list typed with spaces after the commas is taken.
    const controller = new AbortController();
    const spaced = await fetch(`${url}/live?types=evaluation,%20alert`, { signal: controller.signal });
    expect(spaced.status).toBe(200);
    controller.abort();
  });

  it('cuts off a subscriber that stops reading, with bounded backlog and buffer, while others keep up; it can resume', async () => {
    // Each batch below is one synchronous burst of 1000 events: a reading subscriber never falls 2000 behind.
    const buffer = 2000;
    const { url, app } = await serve({ liveSubscriberBuffer: buffer, liveSubscriberGraceMs: 0, liveRingSize: 100_000 });
    const stalled = await open(`${url}/live`);
    const healthy = await open(`${url}/live?types=alert`);
    await stalled.next();
    stalled.pause();

    // 40 batches of 500 anomalous traces: 40,000 events of ~0.5–1 kB, far more than the socket buffers hold.
    const batch = { traces: Array.from({ length: 500 }, () => ANOMALOUS) };
    const backlogs: number[] = [];
    const buffered: number[] = [];
    let stalledCut = -1;
    for (let i = 0; i < 40; i++) {
      expect((await postJson(url, '/anomaly/batch', batch)).status).toBe(200);
      const stats = app.live.bus.subscriberStats();
      for (const s of stats) {
        backlogs.push(s.maxBacklog);
        buffered.push(s.maxWritable);
      }
      if (stalledCut < 0 && !stats.some((s) => s.serial === 1)) stalledCut = i;
    }
    const head = app.live.bus.latestId;
    expect(head - app.live.bus.ring.startsAfter).toBe(40_000);
    await healthy.until(() => healthy.reached(head), 10_000, 'the last alert');
    expect(healthy.messages.at(-1)?.id).toBe(String(head));
    expect(healthy.messages.length).toBe(20_001);

    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metricValue(metrics, 'petrascore_live_disconnects_total', '{reason="overflow"}')).toBe(1);
    expect(metricValue(metrics, 'petrascore_live_events_dropped_total', '{type="evaluation"}')).toBeGreaterThan(0);
    expect(metricValue(metrics, 'petrascore_live_events_dropped_total', '{type="alert"}')).toBeGreaterThan(0);
    expect(metricValue(metrics, 'petrascore_live_subscribers')).toBe(1);
    // Bounded counts: no subscriber was ever more than the buffer (+ the event that cut it) behind, the ring holds
    // at most its size, and the stalled connection's server-side buffer never grew past a chunk or two.
    expect(Math.max(...backlogs)).toBeLessThanOrEqual(buffer + 1);
    expect(Math.max(...buffered)).toBeLessThan(256 * 1024);
    expect(stalledCut).toBeGreaterThanOrEqual(0);
    expect(stalledCut).toBeLessThan(39);
    expect(app.live.bus.ring.size).toBeLessThanOrEqual(100_000);
    expect(app.live.bus.subscriberStats().map((s) => s.serial)).toEqual([2]);

    // The cut connection was reset, not closed: a closed one would sit in FIN-WAIT-1 with what the reader left unread
    // (megabytes of the kernel's send buffer) for as long as the reader's window stays shut.
    expect(serverSocketsIn(url, FIN_WAIT_1)).toBe(0);

    // Reading again, the stalled client finds the stream cut, then resumes from its last id without a loss.
    stalled.response.resume();
    stalled.response.socket.resume();
    await stalled.until(() => stalled.ended, 10_000, 'the cut');
    const lastSeen = Number(stalled.messages.at(-1)!.id);
    expect(lastSeen).toBeLessThan(head);
    const resumed = await open(`${url}/live`, { 'last-event-id': String(lastSeen) });
    await resumed.until(() => resumed.reached(head), 20_000, 'the replay');
    expect(resumed.messages.at(-1)?.id).toBe(String(head));
    expect(resumed.messages[0]!.id).toBe(String(lastSeen + 1));
    expect(resumed.messages.length).toBe(head - lastSeen);
  });

  it('a reader that keeps reading survives a burst far beyond the buffer; a stalled one is cut once the grace is over', async () => {
    const { url, app } = await serve({ liveSubscriberBuffer: 200, liveSubscriberGraceMs: 1000, liveRingSize: 100_000, liveStatsIntervalMs: 0 });
    const reader = await open(`${url}/live`);
    const stalled = await open(`${url}/live`);
    await stalled.next();
    stalled.pause();
    const stats = (serial: number) => app.live.bus.subscriberStats().find((s) => s.serial === serial);
    // One request, one synchronous burst: 3,000 anomalous traces publish 6,000 events (an evaluation and an alert each).
    const burst = { traces: Array.from({ length: 3000 }, () => ANOMALOUS) };
    expect((await postJson(url, '/anomaly/batch', burst)).status).toBe(200);
    // The reader fell far more than the buffer behind (nothing drains during the burst), yet it is not cut.
    expect(stats(1)!.maxBacklog).toBeGreaterThan(200);
    let head = app.live.bus.latestId;
    await reader.until(() => reader.reached(head), 10_000, 'the end of the burst');
    expect(stats(1)).toBeDefined();

    // The stalled client's socket buffers take megabytes before its stream blocks: publish until it does.
    const small = { traces: Array.from({ length: 500 }, () => ANOMALOUS) };
    for (let i = 0; i < 60 && stats(2)?.blocked !== true; i++) expect((await postJson(url, '/anomaly/batch', small)).status).toBe(200);
    expect(stats(2)?.blocked).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await postJson(url, '/anomaly', ANOMALOUS)).status).toBe(200);
    head = app.live.bus.latestId;
    expect(stats(2)).toBeUndefined();
    await reader.until(() => reader.reached(head), 10_000, 'the last alert');
    expect(stats(1)).toBeDefined();
    const base = app.live.bus.ring.startsAfter;
    expect(reader.messages.filter((m) => m.event !== 'snapshot').map((m) => Number(m.id))).toEqual(Array.from({ length: head - base }, (_, i) => base + i + 1));
  });

  it('answers HEAD /live with the stream headers and ends, without subscribing', async () => {
    const { url, app } = await serve();
    const head = await fetch(`${url}/live`, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(app.live.bus.subscriberCount).toBe(0);
  });

  it('refuses subscribers beyond --live-max-subscribers with a 503 JSON error', async () => {
    const { url } = await serve({ liveMaxSubscribers: 1 });
    await open(`${url}/live`);
    const refused = await open(`${url}/live`);
    expect(refused.status).toBe(503);
    expect(refused.response.headers['retry-after']).toBe('5');
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'too_many_subscribers' });
  });

  it('sends comment heartbeats on idle streams and stats on every tick', async () => {
    const { url } = await serve({ liveHeartbeatMs: 100, liveStatsIntervalMs: 100 });
    await postJson(url, '/cases/s1/events?score=true', APPROVE);
    const quiet = await open(`${url}/live?types=alert`);
    const client = await open(`${url}/live?types=stats`);
    await quiet.until(() => quiet.comments.some((c) => c.startsWith('heartbeat')), 5000, 'a heartbeat');
    const stats = (await client.nextUntil((e) => e.type === 'stats')).at(-1)!;
    expect(stats).toMatchObject({ type: 'stats', open_cases: 1, alerts_last_minute: 0, subscribers: 2 });
    expect(stats.events_per_s).toBeGreaterThan(0);
    expect(stats.scores_per_s).toBeGreaterThan(0);
    expect(stats.latency_p99_ms).toBeGreaterThan(0);
    expect(stats.latency_p50_ms as number).toBeLessThanOrEqual(stats.latency_p99_ms as number);
  });

  it('gives a filtered stream the id of the events it passed over in its heartbeats, so it resumes without a gap or a loss', async () => {
    const { url } = await serve({ liveHeartbeatMs: 100, liveStatsIntervalMs: 0 });
    const alertsOnly = await open(`${url}/live?types=alert&snapshot=false`);
    const all = await open(`${url}/live?snapshot=false`);
    await postJson(url, '/cases/h1/events?score=true', APPROVE);
    const evaluation = (await all.nextUntil((e) => e.type === 'evaluation')).at(-1)!;
    // What EventSource would hold as its Last-Event-ID: the evaluation's id, though the stream sent no event.
    await alertsOnly.until(() => alertsOnly.lastEventId === String(evaluation.id), 5000, 'a heartbeat with the id');
    expect(alertsOnly.messages).toEqual([]);
    alertsOnly.close();
    expect((await postJson(url, '/anomaly', ANOMALOUS)).status).toBe(200);
    const resumed = await open(`${url}/live?types=alert&snapshot=false`, { 'last-event-id': alertsOnly.lastEventId! });
    const [first] = await resumed.nextUntil((e) => e.type === 'alert');
    expect(first).toMatchObject({ type: 'alert', source: 'anomaly' });
    expect(resumed.messages.map((m) => m.event)).toEqual(['alert']);
  });

  it('tells a reader of one lane when a case leaves it (its lane attribute changed): the next evaluation or eviction carries previous_lane', async () => {
    const { url } = await serve({ laneAttribute: 'host', liveStatsIntervalMs: 0 });
    const hA = await open(`${url}/live?lane=hA&snapshot=false`);
    const hB = await open(`${url}/live?lane=hB&snapshot=false`);
    await postJson(url, '/cases/L1/events', { name: 'approve loan', attributes: { risk_score: '0.9', host: 'hA' } });
    await postJson(url, '/cases/L1/events', { name: 'approve loan', attributes: { host: 'hB' } });
    await postJson(url, '/cases/L1/close', {});
    await postJson(url, '/cases/L2/events?score=true', { name: 'approve loan', attributes: { risk_score: '0.9', host: 'hA' } });
    await postJson(url, '/cases/L2/events', { name: 'approve loan', attributes: { host: 'hB' } });
    await fetch(`${url}/cases/L2`, { method: 'DELETE' });
    await hA.until(() => busEvents(hA).some((e) => e.type === 'case_evicted'), 5000, 'L2 evicted');
    const seen = (client: SseClient) => busEvents(client).map((e) => `${e.type} ${e.case_id as string} ${e.lane as string}${e.previous_lane === undefined ? '' : ` from ${e.previous_lane as string}`}`);
    expect(seen(hA)).toEqual(['case_opened L1 hA', 'evaluation L1 hB from hA', 'case_opened L2 hA', 'evaluation L2 hA', 'case_evicted L2 hB from hA']);
    await hB.until(() => busEvents(hB).some((e) => e.type === 'case_evicted'), 5000, 'L2 evicted');
    expect(seen(hB)).toEqual(['evaluation L1 hB from hA', 'case_closed L1 hB', 'case_evicted L2 hB from hA']);
  });

  it('gives a reader of alerts alone every alert of a batch at the request limit, which overflows the ring (default settings)', async () => {
    const { url, app } = await serve({ liveStatsIntervalMs: 0 });
    const alerts = await open(`${url}/live?types=alert&snapshot=false`);
    const traces = Array.from({ length: defaultConfig().maxEventsPerRequest }, () => ANOMALOUS);
    // An evaluation and an alert a trace: twice the ring.
    expect(2 * traces.length).toBeGreaterThan(app.live.bus.ring.capacity);
    const response = await fetch(`${url}/anomaly/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ traces }) });
    expect(response.status).toBe(200);
    await alerts.until(() => alerts.messages.length >= traces.length, 20_000, `${traces.length} alerts`);
    // Still connected: the next alert arrives on the same stream.
    await postJson(url, '/anomaly', ANOMALOUS);
    await alerts.until(() => alerts.messages.length === traces.length + 1, 5000, 'one alert more');
    const ids = alerts.messages.map((m) => Number(m.id));
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
    expect(new Set(alerts.events.map((e) => e.case_id)).size).toBe(traces.length + 1);
  });

  it('resumes a reader of alerts alone from the alert history after the ring has moved on, and gaps it once alerts are lost', async () => {
    const { url, app } = await serve({ liveRingSize: 16, liveAlertHistory: 3, liveStatsIntervalMs: 0 });
    const reference = await open(`${url}/live?types=alert&snapshot=false`);
    const away = await open(`${url}/live?types=alert&snapshot=false`);
    const all = await open(`${url}/live?snapshot=false`);
    await postJson(url, '/anomaly', ANOMALOUS);
    await away.nextUntil((e) => e.type === 'alert');
    away.close();
    const seen = away.lastEventId!;

    // Missed while away: two alerts, then twenty events without one, so that the ring (16) holds neither.
    for (let i = 0; i < 2; i++) await postJson(url, '/anomaly', ANOMALOUS);
    for (let i = 0; i < 10; i++) await postJson(url, `/cases/q${i}/events?score=true`, APPROVE);
    await receivedUpTo(all, app.live.bus.latestId);
    const missed = reference.messages.filter((m) => Number(m.id) > Number(seen));
    expect(missed.map((m) => m.event)).toEqual(['alert', 'alert']);
    expect(Number(missed[1]!.id)).toBeLessThan(app.live.bus.ring.oldestId);

    const resumed = await open(`${url}/live?types=alert`, { 'last-event-id': seen });
    await postJson(url, '/anomaly', ANOMALOUS);
    await reference.until(() => reference.messages.length === 4, 5000, 'the fourth alert');
    await resumed.until(() => resumed.messages.length === 3, 5000, 'three alerts');
    expect(resumed.messages).toEqual(reference.messages.slice(1));
    // A reader of every event resuming from the same id has lost events, and is told so.
    const everything = await open(`${url}/live`, { 'last-event-id': seen });
    expect(await everything.next()).toMatchObject({ type: 'gap', reason: 'expired' });

    // Four more alerts pushed out of the ring: the history (3) no longer holds every alert after `seen`.
    for (let i = 0; i < 4; i++) await postJson(url, '/anomaly', ANOMALOUS);
    for (let i = 0; i < 10; i++) await postJson(url, `/cases/r${i}/events?score=true`, APPROVE);
    await reference.until(() => reference.messages.length === 8, 5000, 'eight alerts');
    const expired = await open(`${url}/live?types=alert`, { 'last-event-id': seen });
    const gap = await expired.next();
    expect(gap).toMatchObject({ type: 'gap', requested: seen, reason: 'expired' });
    expect(await expired.next()).toMatchObject({ type: 'snapshot' });
    // The gap names the oldest id such a reader can resume before: from there it misses nothing.
    const oldest = gap.oldest as number;
    const later = await open(`${url}/live?types=alert`, { 'last-event-id': String(oldest - 1) });
    await postJson(url, '/anomaly', ANOMALOUS);
    await reference.until(() => reference.messages.length === 9, 5000, 'nine alerts');
    const expected = reference.messages.filter((m) => Number(m.id) >= oldest);
    expect(expected.length).toBeGreaterThanOrEqual(4);
    await later.until(() => later.messages.length === expected.length, 5000, 'the alerts after the oldest');
    expect(later.messages).toEqual(expected);
  });

  it('resumes after the header\'s id when a query id is also given (an EventSource reconnecting from a ?last_event_id= URL); empty ids count as none', async () => {
    const { url, app } = await serve({ liveStatsIntervalMs: 0 });
    for (const id of ['k1', 'k2']) await postJson(url, `/cases/${id}/events?score=true`, APPROVE);
    const base = app.live.bus.ring.startsAfter;
    // The URL's id is older than the header's: the header's is what the client has seen last.
    const both = await open(`${url}/live?last_event_id=${base + 1}`, { 'last-event-id': String(base + 3) });
    await postJson(url, '/cases/k3/events', APPROVE);
    const replayed = await both.nextUntil((e) => e.case_id === 'k3');
    expect(replayed.map((e) => e.id)).toEqual([base + 4, base + 5]);

    for (const [query, header] of [['', undefined], [undefined, ''], ['', ' ']] as const) {
      const client = await open(`${url}/live${query === undefined ? '' : `?last_event_id=${query}`}`, header === undefined ? {} : { 'last-event-id': header });
      expect(await client.next()).toMatchObject({ type: 'snapshot' });
    }
  });

  it('gives a reader of alerts or stats alone a snapshot without the board of open cases', async () => {
    const { url } = await serve({ liveStatsIntervalMs: 0 });
    await postJson(url, '/cases/b1/events?score=true', APPROVE);
    await postJson(url, '/anomaly', ANOMALOUS);
    const board = await (await open(`${url}/live?types=evaluation`)).next();
    expect([(board.cases as unknown[]).length, (board.stateless as unknown[]).length, board.open_cases]).toEqual([1, 1, 1]);
    for (const types of ['alert', 'alert,stats', 'stats']) {
      const snapshot = await (await open(`${url}/live?types=${types}`)).next();
      expect(snapshot).toMatchObject({ type: 'snapshot', open_cases: 1, cases: [], stateless: [] });
      expect((snapshot.alerts as unknown[]).length).toBe(1);
    }
    // /live/snapshot takes no `types` (its query has none, unvalidated there): the board, whatever the parameter says.
    for (const types of ['alert', 'nonsense']) {
      const snapshot = (await (await fetch(`${url}/live/snapshot?types=${types}`)).json()) as { cases: unknown[]; stateless: unknown[] };
      expect([snapshot.cases.length, snapshot.stateless.length]).toEqual([1, 1]);
    }
  });

  it('publishes evictions with their reason', async () => {
    const { url } = await serve({ maxOpenCases: 1 });
    const client = await open(`${url}/live?types=case_opened,case_evicted`);
    await postJson(url, '/cases/old/events', APPROVE);
    await postJson(url, '/cases/new/events', APPROVE);
    const events = await client.nextUntil((e) => e.type === 'case_opened' && e.case_id === 'new');
    expect(events.slice(1).map((e) => [e.type, e.case_id, e.reason])).toEqual([
      ['case_opened', 'old', undefined],
      ['case_evicted', 'old', 'capacity'],
      ['case_opened', 'new', undefined],
    ]);
    const snapshot = (await (await fetch(`${url}/live/snapshot`)).json()) as { cases: { case_id: string }[] };
    expect(snapshot.cases.map((c) => c.case_id)).toEqual(['new']);
  });

  it("publishes an eviction for the open cases' attributes with its own reason, before the event that caused it", async () => {
    const { url } = await serve({ maxAttributeCharsPerCase: 100, maxAttributeChars: 150, laneAttribute: 'host' });
    const client = await open(`${url}/live?types=case_opened,case_evicted`);
    await postJson(url, '/cases/old/events', { ...APPROVE, attributes: { host: 'o'.repeat(96) } });
    await postJson(url, '/cases/new/events', { ...APPROVE, attributes: { host: 'n'.repeat(96) } });
    const events = await client.nextUntil((e) => e.type === 'case_opened' && e.case_id === 'new');
    expect(events.slice(1).map((e) => [e.type, e.case_id, e.reason])).toEqual([
      ['case_opened', 'old', undefined],
      ['case_evicted', 'old', 'attribute_capacity'],
      ['case_opened', 'new', undefined],
    ]);
  });

  it('ends open streams when the server closes, so shutdown does not wait for them', async () => {
    const server = await listening();
    const client = await open(`${server.url}/live`);
    await client.next();
    await server.app.close();
    await client.until(() => client.ended, 5000, 'the end of the stream');
  });
});

describe('the snapshot of open cases', () => {
  it('lists them least recently active first, moves a case on each event, and drops a closed one', async () => {
    const { url, app } = await serve();
    for (const id of ['a', 'b', 'c']) expect((await postJson(url, `/cases/${id}/events`, APPROVE)).status).toBe(202);
    expect((await postJson(url, '/cases/a/events', { name: 'reject loan' })).status).toBe(202);
    expect((await postJson(url, '/cases/b/close', undefined)).status).toBe(200);
    const snapshot = app.live.snapshot();
    expect(snapshot.cases.map((c) => [c.case_id, c.n_events])).toEqual([
      ['c', 1],
      ['a', 2],
    ]);
    expect(snapshot.open_cases).toBe(2);
  });

  it("shows each case's latest evaluation as it was published, also when a closed case's place is reused", async () => {
    const { url, app } = await serve();
    expect((await postJson(url, '/cases/a/events?score=true', APPROVE)).status).toBe(200);
    expect((await postJson(url, '/cases/b/events?score=true', { name: 'reject loan', attributes: { risk_score: '0.2' } })).status).toBe(200);
    expect((await postJson(url, '/cases/a/close', undefined)).status).toBe(200);
    expect((await postJson(url, '/cases/c/events?score=true', { name: 'unknown step', attributes: { risk_score: '0.7' } })).status).toBe(200);
    expect((await postJson(url, '/cases/b/events', { name: 'approve loan' })).status).toBe(202);

    const cases = app.live.snapshot().cases;
    expect(cases.map((c) => c.case_id)).toEqual(['c', 'b']);
    for (const row of cases) expect(row.last).toEqual(app.live.bus.ring.get(row.last!.id)!.event);
    expect(cases.map((c) => [c.n_events, c.last!.n_events])).toEqual([
      [1, 1],
      [2, 1],
    ]);
    expect(app.live.snapshot({ minScore: cases[0]!.last!.trace_score }).cases.map((c) => c.case_id)).toContain('c');
  });
});
