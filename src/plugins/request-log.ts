import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** The error class of each refused request, for its line; a WeakMap, so that answered requests hold nothing. */
const errorClasses = new WeakMap<FastifyRequest, string>();

/** The error handlers tell which class of error a request was refused with (validation_error, not_found, …). */
export function noteErrorClass(request: FastifyRequest, error: string): void {
  errorClasses.set(request, error);
}

/** The one log line of a request: id (from the request's logger), route, status, latency, and why it was refused. */
export function logRequestLine(request: FastifyRequest, status: number, ms: number): void {
  const line = { method: request.method, url: request.url, route: request.routeOptions.url ?? 'unmatched', status, ms: Math.round(ms * 100) / 100 };
  const error = errorClasses.get(request);
  request.log.info(error === undefined ? line : { ...line, error }, 'request');
}

/**
 * One log line per request instead of Fastify's two (the id is echoed by request-tracking). A hijacked response (a
 * /live stream) gets no onResponse: its route writes the line when the stream ends.
 */
export const requestLogPlugin = fp(
  async (app) => {
    // At a level above info (as in production) there is no request line, and no hook to run per request for it.
    if (!['trace', 'debug', 'info'].includes(app.log.level)) return;
    app.addHook('onResponse', (request, reply, next) => {
      logRequestLine(request, reply.statusCode, reply.elapsedTime);
      next();
    });
  },
  { name: 'request-log' },
);
