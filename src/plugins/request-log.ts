import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** The one log line of a request: id (from the request's logger), route, status, latency. */
export function logRequestLine(request: FastifyRequest, status: number, ms: number): void {
  request.log.info({ method: request.method, url: request.url, route: request.routeOptions.url, status, ms: Math.round(ms * 100) / 100 }, 'request');
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
