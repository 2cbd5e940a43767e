import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import fp from 'fastify-plugin';
import type { RequestLogSetting } from '../config/options.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Which request lines are written: --request-log, or none when the level excludes info (see requestLines). */
    requestLog: RequestLogSetting;
    /** Writes a request's line if --request-log wants it: for answers Fastify's onResponse does not see (a /live stream). */
    requestLine: (request: FastifyRequest, status: number, ms: number) => void;
  }
}

/** The error class of each refused request, for its line; a WeakMap, so that answered requests hold nothing. */
const errorClasses = new WeakMap<FastifyRequest, string>();

/** The error handlers tell which class of error a request was refused with (validation_error, not_found, …). */
export function noteErrorClass(request: FastifyRequest, error: string): void {
  errorClasses.set(request, error);
}

/** What every request line says of its request. */
function requestFields(request: FastifyRequest): { method: string; url: string; route: string } {
  return { method: request.method, url: request.url, route: request.routeOptions.url ?? 'unmatched' };
}

const roundMs = (ms: number): number => Math.round(ms * 100) / 100;

/**
 * Kubernetes' probes and Prometheus' scrapes: answered every few seconds for ever, their success says nothing new. All
 * the admin listener serves.
 */
export const PROBE_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The one log line of a request: id (from the request's logger), route, status, latency, and why it was refused. A
 * successful probe or scrape is at debug, its failure (a 503 from /readyz while draining) at info. The route is
 * looked up once for the line anyway, so telling a probe apart costs a set lookup on a line already being written.
 */
function logRequestLine(request: FastifyRequest, status: number, ms: number): void {
  const fields = requestFields(request);
  const line = { ...fields, status, ms: roundMs(ms) };
  const error = errorClasses.get(request);
  const full = error === undefined ? line : { ...line, error };
  if (status < 400 && PROBE_ROUTES.has(fields.route)) request.log.debug(full, 'request');
  else request.log.info(full, 'request');
}

/** An answer --request-log errors keeps: a client's mistake or the service's refusal. */
const isError = (status: number): boolean => status >= 400;

/**
 * The line of a request whose client went away before its answer: a webhook caller that timed out shows here, with
 * how long it waited. Written under --request-log all and errors (an abandoned request is as telling as a refused one).
 */
export function logAbandonedRequest(request: FastifyRequest, ms: number): void {
  request.log.info({ ...requestFields(request), abandoned: true, ms: roundMs(ms) }, 'request abandoned by its client');
}

/**
 * Requests whose answer had its say in the log: Fastify's onResponse came (the answer finished), or the answer was
 * logged where it was made (a URL refused before routing, for which no onResponse runs). Any other request that was
 * answered gets its line when its response closes.
 */
const seen = new WeakSet<FastifyRequest>();

export function noteAnswerSeen(request: FastifyRequest): void {
  seen.add(request);
}

export function answerSeen(request: FastifyRequest): boolean {
  return seen.has(request);
}

/**
 * The line of a request whose answer was ended but never wholly sent: its client went away while the answer was still
 * on its way (the end of a load test, a caller's timeout during a large /anomaly/batch answer). Fastify's onResponse
 * comes at the finish that never came; without this the request is counted under its status and has no line.
 */
export function logCutAnswer(request: FastifyRequest, status: number, ms: number): void {
  request.log.info({ ...requestFields(request), status, ms: roundMs(ms), unfinished: true }, 'request answered, its client gone before the answer was sent');
}

/**
 * Which request lines are written. At a level above info (as in production) there are none, whatever --request-log
 * says, and no work per request for them; --request-log chooses among requests without touching the other lines.
 */
export function requestLines(level: string, setting: RequestLogSetting): RequestLogSetting {
  return ['trace', 'debug', 'info'].includes(level) ? setting : 'none';
}

const noLine = (): void => undefined;
const errorLine = (request: FastifyRequest, status: number, ms: number): void => {
  if (isError(status)) logRequestLine(request, status, ms);
};

/**
 * One log line per request instead of Fastify's two (the id is echoed by request-tracking). A hijacked response (a
 * /live stream) gets no onResponse: its route writes the line (app.requestLine) when the stream ends. A request whose
 * client went away before its answer gets no onResponse either: request-tracking writes its line when the response
 * closes.
 *
 * The choice among all, errors and none is made once here, not per request: with none (or a level above info) no
 * hook is added at all, so a request pays nothing for the lines it does not get; with errors the hook's only work for
 * a successful request is its status check.
 */
export const requestLogPlugin = fp<{ requestLog: RequestLogSetting }>(
  async (app, options) => {
    const lines = requestLines(app.log.level, options.requestLog);
    app.decorate('requestLog', lines);
    app.decorate('requestLine', lines === 'all' ? logRequestLine : lines === 'errors' ? errorLine : noLine);
    if (lines === 'none') return;
    const onResponse =
      lines === 'all'
        ? (request: FastifyRequest, reply: FastifyReply, next: HookHandlerDoneFunction) => {
            seen.add(request);
            logRequestLine(request, reply.statusCode, reply.elapsedTime);
            next();
          }
        : (request: FastifyRequest, reply: FastifyReply, next: HookHandlerDoneFunction) => {
            seen.add(request);
            // elapsedTime reads the clock: only for a line.
            if (isError(reply.statusCode)) logRequestLine(request, reply.statusCode, reply.elapsedTime);
            next();
          };
    app.addHook('onResponse', onResponse);
  },
  { name: 'request-log' },
);
