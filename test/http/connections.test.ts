import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, type App, type AppConfig } from '../../src/app.js';
import { defaultConfig } from '../../src/config/options.js';
import { DEFAULT_MODEL } from '../helpers/fixtures.js';
import { sendRaw } from '../helpers/raw-http.js';

type Line = Record<string, unknown>;

const DROPPED = 'connections dropped as they were accepted: --max-connections are open';

interface Server {
  app: App;
  port: number;
  /** The warn lines written so far. */
  warnings: Line[];
  /** Every line written so far, at the level asked for (warn unless named). */
  lines: Line[];
  /** The server's side of every connection it accepted and has not closed yet. */
  accepted: Set<Socket>;
  /** The clients of holdOpen(): a request begun holds the server's close until Node's headers timeout. */
  held: Socket[];
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => release(server).then(() => server.app.close())));
});

/** Ends the held connections and waits until the server has closed its side of each. */
async function release(server: Server): Promise<void> {
  for (const client of server.held.splice(0)) client.destroy();
  await allClosed(server);
}

/** The app on a port of 127.0.0.1, its warn lines collected, its accepted connections in view. */
async function serving(overrides: Partial<AppConfig>, level = 'warn'): Promise<Server> {
  const warnings: Line[] = [];
  const lines: Line[] = [];
  const stream = {
    write: (text: string) => {
      const line = JSON.parse(text) as Line;
      lines.push(line);
      if ((line.level as number) >= 40) warnings.push(line);
    },
  };
  const app = await buildApp({ ...defaultConfig(), bundle: DEFAULT_MODEL, liveStatsIntervalMs: 0, ...overrides }, { level, stream });
  const accepted = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    accepted.add(socket);
    socket.once('close', () => accepted.delete(socket));
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const server = { app, port: (app.server.address() as AddressInfo).port, warnings, lines, accepted, held: [] };
  servers.push(server);
  return server;
}

/** A connection whose request never gets past its first header (slowloris), once the server has accepted it. */
async function holdOpen(server: Server): Promise<{ client: Socket; accepted: Socket }> {
  const [[accepted], client] = await Promise.all([once(server.app.server, 'connection') as Promise<[Socket]>, connectTo(server.port)]);
  client.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  server.held.push(client);
  return { client, accepted };
}

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** What a new connection that sends nothing receives before the server closes it. */
async function receivedBeforeClose(port: number): Promise<string> {
  const socket = await connectTo(port);
  let received = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  // A reset instead of an end is a close all the same.
  socket.on('error', () => {});
  await once(socket, 'close');
  return received;
}

/** A request on a connection of its own, closed after the answer, as a probe or a scraper makes it. */
function send(port: number, path: string, json?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const options = json === undefined ? { method: 'GET' } : { method: 'POST', headers: { 'content-type': 'application/json' } };
    const req = request({ host: '127.0.0.1', port, path, agent: false, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(json === undefined ? undefined : JSON.stringify(json));
  });
}

/** Resolves once the server has closed its side of `socket` (and so counted it out), whether it ended or failed. */
function closedBy(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

async function allClosed(server: Server): Promise<void> {
  await Promise.all([...server.accepted].map(closedBy));
}

function sample(metrics: string, name: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('--max-connections: a connection beyond the cap is closed as it is accepted', () => {
  it('holds the first N open, closes the next one unanswered (a probe or a scrape too), counts it, and serves again once one closes', async () => {
    const server = await serving({ maxConnections: 3, liveMaxSubscribers: 1 });
    const held = [await holdOpen(server), await holdOpen(server), await holdOpen(server)];

    // The fourth is accepted by the kernel, then closed by Node before it is read: no answer at all.
    expect(await receivedBeforeClose(server.port)).toBe('');
    // So a probe or a scrape that arrives while the cap holds gets no answer either.
    await expect(send(server.port, '/healthz')).rejects.toMatchObject({ code: 'ECONNRESET' });
    // The held three are still open and served: one finishes its request.
    expect(held.map(({ client }) => client.destroyed)).toEqual([false, false, false]);
    const answer = new Promise<string>((resolve) => {
      let text = '';
      held[0]!.client.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      held[0]!.client.once('end', () => resolve(text));
    });
    held[0]!.client.write('Connection: close\r\n\r\n');
    expect(await answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    await closedBy(held[0]!.accepted);

    // One place free: the scrape gets through and shows the two drops.
    const scrape = await send(server.port, '/metrics');
    expect(scrape.status).toBe(200);
    expect(sample(scrape.body, 'petrascore_connections_dropped_total')).toBe(2);
    expect(sample(scrape.body, 'petrascore_max_connections')).toBe(3);
    // The two still held and the scrape's own.
    expect(sample(scrape.body, 'petrascore_open_connections')).toBe(3);

    // Once they close, it serves as many at once as before.
    await release(server);
    const anomaly = { input_marking: { p_application: 0.9 }, events: [{ name: 'approve loan' }] };
    const scored = await Promise.all(Array.from({ length: 3 }, () => send(server.port, '/anomaly', anomaly)));
    expect(scored.map((r) => r.status)).toEqual([200, 200, 200]);
    await allClosed(server);
    expect(sample((await send(server.port, '/metrics')).body, 'petrascore_connections_dropped_total')).toBe(2);
  });

  it('logs the first drop at once and sums a burst into one line rather than a line each', async () => {
    const server = await serving({ maxConnections: 2, liveMaxSubscribers: 1 });
    await holdOpen(server);
    await holdOpen(server);
    expect(await receivedBeforeClose(server.port)).toBe('');
    expect(server.warnings.filter((l) => l.msg === DROPPED)).toEqual([expect.objectContaining({ level: 40, dropped: 1, max_connections: 2 })]);

    expect(await Promise.all(Array.from({ length: 20 }, () => receivedBeforeClose(server.port)))).toEqual(Array.from({ length: 20 }, () => ''));
    // What the window has not logged yet is logged as the server closes.
    await release(server);
    await server.app.close();
    const lines = server.warnings.filter((l) => l.msg === DROPPED);
    expect(lines.reduce((sum, l) => sum + (l.dropped as number), 0)).toBe(21);
    expect(lines.length).toBeLessThan(21);
  });

  it('0: no cap (Node\'s own maxConnections stays unset, as a later Node reads 0 as refusing every connection)', async () => {
    const server = await serving({ maxConnections: 0 });
    expect(server.app.server.maxConnections).toBeUndefined();
    for (let i = 0; i < 5; i++) await holdOpen(server);
    const scrape = await send(server.port, '/metrics');
    expect(scrape.status).toBe(200);
    expect(sample(scrape.body, 'petrascore_max_connections')).toBe(0);
    expect(sample(scrape.body, 'petrascore_connections_dropped_total')).toBe(0);
    expect(sample(scrape.body, 'petrascore_open_connections')).toBe(6);
  });
});

describe('--admin-port: probes and scrapes on a listener of their own', () => {
  const ADMIN_DROPPED = 'admin connections dropped as they were accepted: --admin-max-connections are open';

  async function withAdmin(overrides: Partial<AppConfig>, level?: string): Promise<Server & { adminPort: number }> {
    const server = await serving(overrides, level);
    const address = await server.app.adminListener.listen({ host: '127.0.0.1', port: 0 });
    return { ...server, adminPort: Number(new URL(address).port) };
  }

  it('answers /healthz, /readyz and /metrics while --max-connections are open on the API port, and counts them as the API port does', async () => {
    const server = await withAdmin({ maxConnections: 2, liveMaxSubscribers: 1 });
    await holdOpen(server);
    await holdOpen(server);
    await expect(send(server.port, '/healthz')).rejects.toMatchObject({ code: 'ECONNRESET' });

    const health = await send(server.adminPort, '/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });
    expect(JSON.parse((await send(server.adminPort, '/readyz/?probe=1')).body)).toEqual({ status: 'ready' });
    // The path as the router reads it: percent-decoded, and from an absolute-form request target.
    expect((await send(server.adminPort, '/%6Detrics')).status).toBe(200);
    const absolute = await sendRaw(`http://127.0.0.1:${server.adminPort}`, 'GET http://petrascore.internal/healthz HTTP/1.1\r\nHost: petrascore.internal\r\nConnection: close\r\n\r\n');
    expect(absolute).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const scrape = await send(server.adminPort, '/metrics');
    expect(scrape.status).toBe(200);
    expect(sample(scrape.body, 'petrascore_connections_dropped_total')).toBe(1);
    // The API port's connections alone: the two held (the scrape came in on the admin port).
    expect(sample(scrape.body, 'petrascore_open_connections')).toBe(2);
    // Through the app's router: the probes are counted by route as on the API port (the two /healthz above).
    expect(scrape.body).toMatch(/petrascore_http_requests_total\{[^}]*route="\/healthz"[^}]*\} 2\n/);
  });

  it('serves nothing else: other paths get a JSON 404, other methods a 405 with Allow', async () => {
    const server = await withAdmin({});
    const anomaly = await send(server.adminPort, '/anomaly', { input_marking: { p_application: 0.9 }, events: [] });
    expect(anomaly.status).toBe(404);
    expect(JSON.parse(anomaly.body)).toMatchObject({ error: 'not_found', message: expect.stringContaining('/anomaly is not served on the admin port') });
    const posted = await send(server.adminPort, '/metrics', {});
    expect(posted.status).toBe(405);
    expect(JSON.parse(posted.body)).toMatchObject({ error: 'method_not_allowed' });
    // What the router would not read as one of the three gets the admin port's own 404 too, never reaching the router:
    // an encoded slash (the router keeps %2F), an absolute form of a scheme other than http(s).
    for (const target of ['/healthz%2F', 'ftp://petrascore.internal/metrics']) {
      const answer = await sendRaw(`http://127.0.0.1:${server.adminPort}`, `GET ${target} HTTP/1.1\r\nHost: petrascore.internal\r\nConnection: close\r\n\r\n`);
      expect(answer, target).toMatch(/^HTTP\/1\.1 404 Not Found\r\n[\s\S]*is not served on the admin port/);
      expect(answer, target).toMatch(/^x-request-id: req-[0-9a-z]+\r$/im);
    }
    // Counted as the API port's 404s and 405s are.
    const scrape = (await send(server.adminPort, '/metrics')).body;
    expect(scrape).toMatch(/petrascore_http_requests_total\{method="GET",route="unmatched",status="404"\} 2\n/);
    expect(scrape).toMatch(/petrascore_http_requests_total\{method="POST",route="unmatched",status="404"\} 1\n/);
    expect(scrape).toMatch(/petrascore_http_requests_total\{method="POST",route="unmatched",status="405"\} 1\n/);
    // And as client errors, as the API port's are (they were not).
    expect(scrape).toMatch(/petrascore_client_errors_total\{error="not_found"\} 3\n/);
    expect(scrape).toMatch(/petrascore_client_errors_total\{error="method_not_allowed"\} 1\n/);
    // Its answers carry the caller's x-request-id, as the API port's do.
    const named = await sendRaw(`http://127.0.0.1:${server.adminPort}`, 'GET /anomaly HTTP/1.1\r\nHost: x\r\nX-Request-Id: probe-7\r\nConnection: close\r\n\r\n');
    expect(named).toMatch(/^x-request-id: probe-7\r$/im);
    // The API port still serves everything.
    expect((await send(server.port, '/anomaly', { input_marking: { p_application: 0.9 }, events: [{ name: 'approve loan' }] })).status).toBe(200);
  });

  it("answers what Node's HTTP server refuses there in the service's error shape, counted and logged as on the API port", async () => {
    const server = await withAdmin({}, 'info');
    const admin = `http://127.0.0.1:${server.adminPort}`;
    const refusals: Array<[string, number, string]> = [
      ['HELLO THERE\r\n\r\n', 400, 'bad_request'],
      [`GET /healthz?${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431, 'headers_too_large'],
      ['GET /readyz HTTP/1.1\r\nHost: x\r\nExpect: x-foo\r\n\r\n', 417, 'expectation_failed'],
      ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 405, 'method_not_allowed'],
    ];
    for (const [sent, status, error] of refusals) {
      const answer = await sendRaw(admin, sent);
      expect(answer, error).toMatch(new RegExp(`^HTTP/1\\.1 ${status} [^\r]*\r\n[\\s\\S]*content-type: application/json; charset=utf-8\r\n`, 'i'));
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ error, message: expect.any(String), details: [expect.anything()] });
    }
    const scrape = (await send(server.adminPort, '/metrics')).body;
    for (const [, , error] of refusals) expect(sample(scrape, `petrascore_client_errors_total{error="${error}"}`), error).toBe(1);
    expect(server.lines.filter((l) => l.listener === 'admin' && String(l.msg).startsWith('refused by the HTTP')).map((l) => l.error)).toEqual(refusals.map(([, , error]) => error));
  });

  it('has its own cap: a connection beyond --admin-max-connections is closed unanswered and logged', async () => {
    const server = await withAdmin({ adminMaxConnections: 1 });
    const held = await connectTo(server.adminPort);
    held.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    server.held.push(held);
    expect(await receivedBeforeClose(server.adminPort)).toBe('');
    expect(server.warnings.filter((l) => l.msg === ADMIN_DROPPED)).toEqual([expect.objectContaining({ level: 40, dropped: 1, admin_max_connections: 1 })]);
    // The API port's count is the API port's.
    expect(sample((await send(server.port, '/metrics')).body, 'petrascore_connections_dropped_total')).toBe(0);
  });

  it('closes with the app: a kept-alive connection to it does not hold the close, and the port is free after', async () => {
    const server = await withAdmin({});
    const agent = new Agent({ keepAlive: true });
    const kept = await new Promise<Socket>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.adminPort, path: '/readyz', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.socket as Socket));
      });
      req.on('error', reject);
      req.end();
    });
    expect(kept.destroyed).toBe(false);
    await server.app.close();
    await closedBy(kept);
    agent.destroy();
    await expect(connectTo(server.adminPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
