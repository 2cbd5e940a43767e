import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../src/live/events.js';
import { collectGarbage } from '../helpers/gc.js';
import { listening, metricValue, type Listening } from './helpers.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local webhook receiver on 127.0.0.1; `answer` decides each reply (return false to never answer). */
async function receiver(answer: (index: number, res: ServerResponse) => boolean | void = () => {}): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      if (answer(received.length - 1, res) === false) return;
      if (!res.headersSent) res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receivers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/alerts?token=secret`, received, server };
}

/** A port nothing listens on: connections are refused. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let servers: Listening[] = [];
let receivers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.map((s) => s.app.close()));
  for (const r of receivers) r.closeAllConnections();
  await Promise.all(receivers.map((r) => new Promise((resolve) => r.close(resolve))));
  servers = [];
  receivers = [];
});

async function serve(overrides: Parameters<typeof listening>[0]): Promise<Listening> {
  const server = await listening(overrides);
  servers.push(server);
  return server;
}

const ANOMALOUS = JSON.stringify({ input_marking: { p_application: 0.9 }, events: [] });

async function score(url: string): Promise<void> {
  const response = await fetch(`${url}/anomaly`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ANOMALOUS });
  expect(response.status).toBe(200);
  await response.arrayBuffer();
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function metrics(server: Listening): Promise<string> {
  return (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
}

describe('--alert-webhook', () => {
  it('POSTs every alert as JSON (the alert event itself) to every URL', async () => {
    const a = await receiver();
    const b = await receiver();
    const server = await serve({ alertWebhooks: [a.url, b.url] });
    await score(server.url);
    await until(() => a.received.length === 1 && b.received.length === 1, 5000, 'both deliveries');
    const alert = JSON.parse(a.received[0]!.body) as AlertEvent;
    expect(alert.type).toBe('alert');
    expect(alert.explanation.map((i) => i.text)).toEqual(['expected approve loan (>0.99), never observed']);
    expect(server.app.live.bus.ring.get(alert.id)!.event).toEqual(alert);
    expect(b.received[0]!.body).toBe(a.received[0]!.body);
    expect(a.received[0]!.headers).toMatchObject({ 'content-type': 'application/json', 'x-petrascore-alert-id': String(alert.id), 'x-petrascore-attempt': '1' });
    expect(a.received[0]!.headers['user-agent']).toMatch(/^petrascore\//);
    // The receivers have the body before the sender has their answer.
    await until(() => server.app.live.webhooks!.pending === 0, 5000, 'the answers');
    const text = await metrics(server);
    // One series per webhook, by its place among the URLs (webhook_index in the log).
    for (const webhook of ['1', '2']) {
      expect(metricValue(text, 'petrascore_alert_webhook_deliveries_total', `{webhook="${webhook}",outcome="sent"}`)).toBe(1);
      // At 0 from the start, as series of their own (metricValue would read a missing one as 0 too).
      expect(text).toContain(`petrascore_alert_webhook_deliveries_total{webhook="${webhook}",outcome="failed"} 0\n`);
      expect(text).toContain(`petrascore_alert_webhook_pending{webhook="${webhook}"} 0\n`);
    }
  });

  it('retries with backoff after failures, and gives up at once on a 4xx', async () => {
    const flaky = await receiver((i, res) => {
      if (i < 2) res.writeHead(503).end('not now');
    });
    const server = await serve({ alertWebhooks: [flaky.url], alertWebhookBackoffMs: 20 });
    await score(server.url);
    await until(() => flaky.received.length === 3, 5000, 'the third attempt');
    expect(flaky.received.map((r) => r.headers['x-petrascore-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(flaky.received.map((r) => r.body)).size).toBe(1);
    await until(() => server.app.live.webhooks!.pending === 0, 5000, 'the delivery to finish');
    let text = await metrics(server);
    expect(metricValue(text, 'petrascore_alert_webhook_deliveries_total', '{webhook="1",outcome="sent"}')).toBe(1);
    expect(metricValue(text, 'petrascore_alert_webhook_retries_total', '{webhook="1"}')).toBe(2);

    const refusing = await receiver((_i, res) => {
      res.writeHead(404).end();
    });
    const other = await serve({ alertWebhooks: [refusing.url], alertWebhookBackoffMs: 20 });
    await score(other.url);
    await until(() => refusing.received.length === 1 && other.app.live.webhooks!.pending === 0, 5000, 'the refused delivery');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(refusing.received.length).toBe(1);
    text = await metrics(other);
    expect(metricValue(text, 'petrascore_alert_webhook_deliveries_total', '{webhook="1",outcome="failed"}')).toBe(1);
    expect(metricValue(text, 'petrascore_alert_webhook_retries_total', '{webhook="1"}')).toBe(0);
  });

  it('gives up at once where no retry can get through: a port fetch blocks, an https URL to a receiver of plain HTTP', async () => {
    const plain = await receiver();
    const https = plain.url.replace('http://', 'https://');
    // 6666 is on the Fetch standard's list of blocked ports: fetch refuses it without connecting.
    const server = await serve({ alertWebhooks: ['http://127.0.0.1:6666/alerts', https], alertWebhookBackoffMs: 20 });
    await score(server.url);
    await until(() => server.app.live.webhooks!.pending === 0, 5000, 'both deliveries to end');
    const text = await metrics(server);
    for (const webhook of ['1', '2']) {
      expect(metricValue(text, 'petrascore_alert_webhook_deliveries_total', `{webhook="${webhook}",outcome="failed"}`), webhook).toBe(1);
      expect(metricValue(text, 'petrascore_alert_webhook_retries_total', `{webhook="${webhook}"}`), webhook).toBe(0);
    }
  });

  it("waits as long as a 429's Retry-After asks before the retry, beyond a shorter backoff", async () => {
    const arrived: number[] = [];
    const limited = await receiver((i, res) => {
      arrived.push(performance.now());
      if (i === 0) res.writeHead(429, { 'retry-after': '1' }).end('slow down');
    });
    const server = await serve({ alertWebhooks: [limited.url], alertWebhookBackoffMs: 20 });
    await score(server.url);
    await until(() => limited.received.length === 2 && server.app.live.webhooks!.pending === 0, 5000, 'the retry');
    // 20 ms of backoff alone would have retried at once, into the same 429.
    expect(arrived[1]! - arrived[0]!).toBeGreaterThanOrEqual(950);
    expect(limited.received.map((r) => r.headers['x-petrascore-attempt'])).toEqual(['1', '2']);
    expect(metricValue(await metrics(server), 'petrascore_alert_webhook_deliveries_total', '{webhook="1",outcome="sent"}')).toBe(1);
  });

  it('sends credentials in the URL as Basic authorization, and fails a redirect at once without following it', async () => {
    const guarded = await receiver();
    const withCredentials = guarded.url.replace('http://', 'http://alerts:p%40ss@');
    const moved = await receiver((_i, res) => {
      res.writeHead(301, { location: guarded.url }).end();
    });
    const server = await serve({ alertWebhooks: [withCredentials, moved.url], alertWebhookBackoffMs: 20 });
    await score(server.url);
    await until(() => guarded.received.length === 1 && moved.received.length === 1 && server.app.live.webhooks!.pending === 0, 5000, 'both deliveries');
    expect(guarded.received[0]!.headers.authorization).toBe(`Basic ${Buffer.from('alerts:p@ss').toString('base64')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Not retried, not followed (the guarded receiver got only its own delivery).
    expect(moved.received.length).toBe(1);
    expect(guarded.received.length).toBe(1);
    const text = await metrics(server);
    expect(metricValue(text, 'petrascore_alert_webhook_deliveries_total', '{webhook="1",outcome="sent"}')).toBe(1);
    expect(metricValue(text, 'petrascore_alert_webhook_deliveries_total', '{webhook="2",outcome="failed"}')).toBe(1);
    expect(metricValue(text, 'petrascore_alert_webhook_retries_total', '{webhook="2"}')).toBe(0);
  });

  it('times out an attempt that a receiver never answers, and retries it, however many collections run meanwhile', async () => {
    const hanging = await receiver(() => false);
    const server = await serve({ alertWebhooks: [hanging.url], alertWebhookTimeoutMs: 1000, alertWebhookRetries: 1, alertWebhookBackoffMs: 20 });
    await score(server.url);
    await until(() => hanging.received.length === 1, 5000, 'the first attempt');
    // While it waits: an AbortSignal.timeout() that only AbortSignal.any() held was collected, timer and all, and the
    // attempt then waited for ever, its receiver's queue full and every later alert dropped.
    collectGarbage();
    await until(() => hanging.received.length === 2, 10_000, 'the retry once the first attempt timed out');
    expect(hanging.received.map((r) => r.headers['x-petrascore-attempt'])).toEqual(['1', '2']);
    await until(() => server.app.live.webhooks!.pending === 0, 10_000, 'the delivery to give up');
    const text = await metrics(server);
    expect(metricValue(text, 'petrascore_alert_webhook_deliveries_total', '{webhook="1",outcome="failed"}')).toBe(1);
    expect(metricValue(text, 'petrascore_alert_webhook_retries_total', '{webhook="1"}')).toBe(1);
  });

  it('delivers the alerts of the last requests before a shutdown completes', async () => {
    const slow = await receiver((_i, res) => {
      setTimeout(() => res.writeHead(204).end(), 150);
      return false;
    });
    const server = await listening({ alertWebhooks: [slow.url] });
    await score(server.url);
    await score(server.url);
    await server.app.close();
    expect(slow.received.length).toBe(2);
  });

  it('a dead receiver (refused, or never answering) does not hold scoring; its queue stays bounded', async () => {
    const hanging = await receiver(() => false);
    const dead = await serve({
      alertWebhooks: [`http://127.0.0.1:${await deadPort()}/hook`, hanging.url],
      // Longer than the test may run: a request that waited for a delivery would never be answered.
      alertWebhookTimeoutMs: 600_000,
      alertWebhookBackoffMs: 50,
      alertWebhookQueue: 20,
    });
    const rounds = 150;
    // Every request is answered (score() checks 200) while the hanging receiver holds the first delivery, which
    // blocks that URL's queue (deliveries to one URL go one at a time, in order).
    for (let i = 0; i < rounds; i++) await score(dead.url);
    expect(hanging.received.length).toBe(1);

    // Both URLs' queues stayed bounded: the alerts beyond them were dropped and counted.
    expect(dead.app.live.webhooks!.pending).toBeLessThanOrEqual(2 * (20 + 1));
    const text = await metrics(dead);
    expect(metricValue(text, 'petrascore_alerts_total')).toBe(rounds);
    const dropped = (webhook: string) => metricValue(text, 'petrascore_alert_webhook_deliveries_total', `{webhook="${webhook}",outcome="dropped"}`);
    expect(dropped('1') + dropped('2')).toBeGreaterThan(rounds);
    // The hanging receiver's: one in flight and 20 waiting, every later alert dropped.
    expect(dropped('2')).toBe(rounds - 21);
    expect(metricValue(text, 'petrascore_alert_webhook_pending', '{webhook="2"}')).toBe(21);
    for (const webhook of ['1', '2']) expect(metricValue(text, 'petrascore_alert_webhook_deliveries_total', `{webhook="${webhook}",outcome="sent"}`)).toBe(0);
    // A shutdown would give the delivery its whole timeout: give up on it now.
    await dead.app.live.webhooks!.close(0);
  });
});
