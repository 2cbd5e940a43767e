import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

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

/** The one log line of a request: id (from the request's logger), route, status, latency, and why it was refused. */
export function logRequestLine(request: FastifyRequest, status: number, ms: number): void {
  const line = { ...requestFields(request), status, ms: roundMs(ms) };
  const error = errorClasses.get(request);
  request.log.info(error === undefined ? line : { ...line, error }, 'request');
}

/**
 * The line of a request whose client went away before its answer: a webhook caller that timed out shows here, with
 * how long it waited.
 */
export function logAbandonedRequest(request: FastifyRequest, ms: number): void {
  request.log.info({ ...requestFields(request), abandoned: true, ms: roundMs(ms) }, 'request abandoned by its client');
}

/** Whether requests get their line: at a level above info (as in production) there is none, and no work per request for it. */
export function logsRequests(level: string): boolean {
  return ['trace', 'debug', 'info'].includes(level);
}

/**
 * One log line per request instead of Fastify's two (the id is echoed by request-tracking). A hijacked response (a
 * /live stream) gets no onResponse: its route writes the line when the stream ends. A request whose client went away
 * before its answer gets no onResponse either: request-tracking writes its line when the response closes.
 */
export const requestLogPlugin = fp(
  async (app) => {
    if (!logsRequests(app.log.level)) return;
    app.addHook('onResponse', (request, reply, next) => {
      logRequestLine(request, reply.statusCode, reply.elapsedTime);
      next();
    });
  },
  { name: 'request-log' },
);
