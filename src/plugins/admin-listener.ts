import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fp from 'fastify-plugin';
import type { ErrorBody } from '../schemas/common.js';
import { clientErrorHandler, refuseConnect, refuseExpectation, type OnRefused } from '../http/client-error.js';
import type { RequestIds } from '../http/request-id.js';
import { WindowedCount } from '../http/windowed-count.js';
import { PROBE_ROUTES } from './request-log.js';

/** What the admin listener serves: the probes and the scrape, nothing that scores or streams. */
const ADMIN_PATHS = PROBE_ROUTES;
const ADMIN_METHODS = new Set(['GET', 'HEAD']);

export interface AdminListener {
  /**
   * Starts listening, and says where in the log; resolves to the address as `http://host:port`. Rejects as
   * `server.listen` does (EADDRINUSE…).
   */
  listen(options: { host: string; port: number }): Promise<string>;
  /** The listening server, once `listen` has resolved (a shutdown marks its answers as the API port's). */
  server(): Server | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** A second HTTP listener for probes and scrapes (`--admin-port`), apart from the API's connections and their cap. */
    adminListener: AdminListener;
  }
}

export interface AdminListenerOptions {
  /** Node's server.maxConnections on the admin listener (at least 1). */
  maxConnections: number;
  /** The app's request ids, for the answers made here rather than by the app's router. */
  requestIds: RequestIds;
}

function answer(response: ServerResponse, status: number, body: ErrorBody, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
}

/**
 * An absolute-form request target's scheme and authority (`GET http://host/metrics`), which the router skips too: for
 * http and https alone (it reads `ftp://host/metrics` as a path, and finds no route).
 */
const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*/i;

/**
 * The path as the app's router reads it: without its query, scheme and authority (absolute form) or trailing slash
 * (ignoreTrailingSlash), percent-decoded as it decodes (`/%6Detrics` is /metrics there too; decodeURI, as the router,
 * keeps `%2F` and the other reserved characters encoded). Only the three paths pass on to the router, which then routes
 * the request as it would on the API port.
 */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  let path = (query === -1 ? url : url.slice(0, query)).replace(ABSOLUTE_FORM, '');
  try {
    path = decodeURI(path);
  } catch {
    // Not valid percent-encoding: matches none of the three, as sent.
  }
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/**
 * Probes and scrapes send their few headers at once: a connection that takes longer is cut (408), so that idle or
 * half-sent connections cannot hold the admin cap's few places for Node's default of a minute or more.
 */
export const ADMIN_REQUEST_TIMEOUT_MS = 10_000;
/** How often Node looks for connections past that timeout (its default, 30 s, would let one stay 40 s). */
const ADMIN_TIMEOUT_CHECK_MS = 2_000;

/**
 * The admin listener: a plain Node HTTP server of its own port whose requests for /healthz, /readyz and /metrics go
 * through the app's router (`app.routing`), so they are answered, tracked, counted and logged exactly as on the API's
 * port. It exists because the API's --max-connections cap turns away new connections without reading them: probes and
 * scrapes on the same port would then fail, and a liveness probe that keeps failing restarts the pod with its open
 * cases. Here they have their own, small cap. Listening starts only when asked (`petrascore serve` with --admin-port);
 * closing the app closes it.
 */
export const adminListenerPlugin = fp<AdminListenerOptions>(
  async (app, { maxConnections, requestIds }) => {
    let server: Server | undefined;
    const drops = new WindowedCount((dropped) =>
      app.log.warn({ dropped, admin_max_connections: maxConnections }, 'admin connections dropped as they were accepted: --admin-max-connections are open'),
    );
    const unmatched = app.metrics.http.forRoute('unmatched');
    /** Counted and logged as the API port's 404s and 405s are (route `unmatched`), so that a scan of this port shows. */
    const refuse = (request: IncomingMessage, response: ServerResponse, started: number, status: number, body: ErrorBody, headers?: Record<string, string>) => {
      const requestId = requestIds(request);
      answer(response, status, body, { ...headers, 'x-request-id': requestId });
      const method = request.method ?? '';
      unmatched.record(method, status, (performance.now() - started) / 1000);
      app.metrics.clientErrors.inc({ error: body.error });
      if (app.requestLog !== 'none') app.log.info({ reqId: requestId, method, url: request.url, route: 'unmatched', status, error: body.error, listener: 'admin' }, 'request');
    };
    /** What Node answers itself unless asked (a malformed request, a header timeout, Expect, CONNECT): as on the API port. */
    const refusedBy = (what: string): OnRefused => (label, status, requestId) => {
      app.metrics.clientErrors.inc({ error: label });
      app.log.info({ reqId: requestId, status, error: label, listener: 'admin' }, what);
    };
    const handle = (request: IncomingMessage, response: ServerResponse) => {
      const started = performance.now();
      const path = pathOf(request.url ?? '/');
      if (!ADMIN_PATHS.has(path)) {
        const message = `${path} is not served on the admin port, which serves GET ${[...ADMIN_PATHS].join(', ')}; the API is on --port`;
        refuse(request, response, started, 404, { error: 'not_found', message, details: [{ path: 'url', message }] });
      } else if (!ADMIN_METHODS.has(request.method ?? '')) {
        const message = `${request.method ?? ''} ${path}: the admin port answers GET and HEAD only`;
        refuse(request, response, started, 405, { error: 'method_not_allowed', message, details: [{ path: 'method', message }] }, { allow: 'GET, HEAD' });
      } else {
        app.routing(request, response);
      }
    };
    app.decorate('adminListener', {
      listen: ({ host, port }) =>
        new Promise<string>((resolve, reject) => {
          if (server !== undefined) throw new Error('the admin listener is already listening');
          const created = createServer(
            { headersTimeout: ADMIN_REQUEST_TIMEOUT_MS, requestTimeout: ADMIN_REQUEST_TIMEOUT_MS, connectionsCheckingInterval: ADMIN_TIMEOUT_CHECK_MS },
            handle,
          );
          // Set only as a cap: Node 20 reads 0 as no cap, later versions as no connection at all.
          created.maxConnections = maxConnections;
          created.on('drop', () => drops.add());
          created.on('clientError', clientErrorHandler(requestIds, refusedBy('refused by the HTTP parser')));
          created.on('checkExpectation', refuseExpectation(requestIds, refusedBy('refused by the HTTP server')));
          created.on('connect', refuseConnect(requestIds, refusedBy('refused by the HTTP server')));
          created.once('error', reject);
          created.listen({ host, port }, () => {
            created.off('error', reject);
            server = created;
            const address = created.address() as AddressInfo;
            const shown = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
            app.log.info({ address: shown, admin_max_connections: maxConnections }, `admin listener at ${shown}: GET ${[...ADMIN_PATHS].join(', ')}`);
            resolve(shown);
          });
        }),
      server: () => server,
    });
    // With the API's port: a probe that finds it closed reads the instance as gone, which it is about to be.
    app.addHook('preClose', (done) => {
      if (server === undefined) return done();
      server.close();
      done();
    });
    // By now the app's requests have finished (admin ones included: they are the app's); what remains are idle
    // keep-alive connections, which would hold the close until their timeout.
    app.addHook('onClose', async () => {
      drops.flush();
      server?.closeAllConnections();
    });
  },
  { name: 'admin-listener', dependencies: ['lifecycle', 'metrics', 'request-log'] },
);
