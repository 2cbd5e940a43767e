import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, type App, type AppConfig } from '../../src/app.js';
import { defaultConfig } from '../../src/config/options.js';
import { DEFAULT_MODEL, FIXTURES, modelPath } from '../helpers/fixtures.js';

type Line = Record<string, unknown>;

const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** The app at a log level, its pino lines collected as written. */
async function loggedApp(level: string, overrides: Partial<AppConfig> = {}): Promise<{ app: App; lines: Line[] }> {
  const lines: Line[] = [];
  const stream = { write: (line: string) => void lines.push(JSON.parse(line) as Line) };
  const app = await buildApp({ ...defaultConfig(), bundle: DEFAULT_MODEL, ...overrides }, { level, stream });
  apps.push(app);
  await app.ready();
  return { app, lines };
}

const REQUEST_MESSAGES = new Set(['request', 'refused before routing', 'request abandoned by its client', 'request answered, its client gone before the answer was sent']);
const requestLines = (lines: Line[]) => lines.filter((l) => REQUEST_MESSAGES.has(l.msg as string));
const anomaly = { input_marking: { p_application: 0.9 }, events: [{ name: 'approve loan' }] };

describe('--request-log all (the default)', () => {
  it('logs a successful probe or scrape at debug, its failure and every other request at info', async () => {
    const { app, lines } = await loggedApp('debug');
    for (const url of ['/healthz', '/readyz', '/metrics']) expect((await app.inject({ method: 'GET', url })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/anomaly', payload: anomaly })).statusCode).toBe(200);
    app.beginDraining();
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    expect(requestLines(lines).map((l) => [l.level, l.route, l.status])).toEqual([
      [20, '/healthz', 200],
      [20, '/readyz', 200],
      [20, '/metrics', 200],
      [30, '/anomaly', 200],
      [30, '/readyz', 503],
    ]);
  });

  it('at info, a successful /healthz has no line while a successful /anomaly has its line', async () => {
    const { app, lines } = await loggedApp('info');
    expect((await app.inject({ method: 'GET', url: '/healthz?probe=1' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/anomaly', payload: anomaly })).statusCode).toBe(200);
    expect(requestLines(lines).map((l) => [l.level, l.route, l.status])).toEqual([[30, '/anomaly', 200]]);
  });
});

describe('--request-log errors', () => {
  it('logs the requests answered 4xx (a 422, a 404, a URL refused before routing) but not a 200', async () => {
    const { app, lines } = await loggedApp('info', { requestLog: 'errors', maxEventsPerCase: 1 });
    expect((await app.inject({ method: 'POST', url: '/anomaly', payload: anomaly })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/cases/c-1/events', payload: { name: 'approve loan' } })).statusCode).toBe(202);
    expect((await app.inject({ method: 'POST', url: '/cases/c-1/events', payload: { name: 'approve loan' } })).statusCode).toBe(422);
    expect((await app.inject({ method: 'GET', url: '/nowhere' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/cases/%FF/events', payload: { name: 'x' } })).statusCode).toBe(400);
    expect(requestLines(lines).map((l) => [l.msg, l.level, l.route, l.status, l.error])).toEqual([
      ['request', 30, '/cases/:id/events', 422, 'max_events_per_case'],
      ['request', 30, 'unmatched', 404, 'not_found'],
      ['refused before routing', 30, undefined, 400, 'bad_url'],
    ]);
  });

  it('logs a request abandoned by its client', async () => {
    const { app, lines } = await loggedApp('info', { requestLog: 'errors' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const socket = await openSocket(app);
    socket.write('POST /anomaly HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"input_marking":');
    await sleep(50);
    socket.destroy();
    await waitFor(() => requestLines(lines).length > 0);
    expect(requestLines(lines)).toEqual([expect.objectContaining({ msg: 'request abandoned by its client', route: '/anomaly', abandoned: true })]);
  });
});

describe('a request whose client goes away while its answer is being sent', () => {
  it('gets its line, with its status and unfinished: true, as it is counted under its status', async () => {
    const { app, lines } = await loggedApp('info', { bundle: modelPath('scale_200'), requestLog: 'errors', maxResidualsPerRequest: 1_000_000 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    // 4,000 traces of 201 residuals each: some 25 MB of answer, far beyond what the socket buffers hold unread.
    const [trace] = JSON.parse(readFileSync(join(FIXTURES, 'scale_200', 'anomaly_cases.json'), 'utf8')) as { input_marking: object; events: object[] }[];
    const body = JSON.stringify({ traces: Array.from({ length: 4000 }, () => ({ input_marking: trace!.input_marking, events: trace!.events.slice(0, 3) })) });
    const socket = await openSocket(app);
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      // The head has come: the client stops reading, then goes away with the answer still on its way.
      if (received.includes('\r\n\r\n')) {
        socket.pause();
        setTimeout(() => socket.destroy(), 200);
      }
    });
    socket.write(`POST /anomaly/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await waitFor(() => requestLines(lines).length > 0, 20_000);
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    expect(requestLines(lines)).toEqual([expect.objectContaining({ msg: 'request answered, its client gone before the answer was sent', route: '/anomaly/batch', status: 200, unfinished: true })]);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/^petrascore_http_requests_total\{method="POST",route="\/anomaly\/batch",status="200"\} 1$/m);
  }, 30_000);
});

describe('--request-log none', () => {
  it('logs no request, refused or not, and nothing per request at debug either', async () => {
    const { app, lines } = await loggedApp('debug', { requestLog: 'none' });
    expect((await app.inject({ method: 'POST', url: '/anomaly', payload: anomaly })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/nowhere' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/cases/%FF/events', payload: { name: 'x' } })).statusCode).toBe(400);
    expect(requestLines(lines)).toEqual([]);
    // The startup lines are there: the level alone rules them.
    expect(lines.map((l) => l.msg)).toContain('loading bundle');
  });
});

describe('a request refused while the server closes', () => {
  it('gets one line, its request line with status 503 and error shutting_down', async () => {
    const { app, lines } = await loggedApp('info');
    await app.listen({ host: '127.0.0.1', port: 0 });
    // A request in flight holds the close open; the one pipelined behind it on its connection arrives while it closes.
    const body = JSON.stringify(anomaly);
    const socket = await openSocket(app);
    socket.write(`POST /anomaly HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
    await until(() => app.openResponses.size > 0);
    const closing = app.close();
    await until(() => app.closing);
    socket.write(`${body.slice(5)}GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n`);
    await closing;
    socket.destroy();
    const lines503 = lines.filter((l) => l.reqId !== undefined && l.status !== 200);
    expect(lines503).toEqual([expect.objectContaining({ msg: 'request', level: 30, route: '/readyz', status: 503, error: 'shutting_down' })]);
  });
});

function openSocket(app: App): Promise<ReturnType<typeof connect>> {
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on a port');
  return new Promise((resolve, reject) => {
    const socket = connect(address.port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out');
    await sleep(10);
  }
}

/** Resolves once `condition` holds, looking every few milliseconds (a slow machine only waits longer). */
async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms: ${condition.toString()}`);
    await sleep(5);
  }
}
