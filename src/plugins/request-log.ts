import fp from 'fastify-plugin';

/** One log line per request (id, route, status, latency) instead of Fastify's two (the id is echoed by request-tracking). */
export const requestLogPlugin = fp(
  async (app) => {
    // At a level above info (as in production) there is no request line, and no hook to run per request for it.
    if (!['trace', 'debug', 'info'].includes(app.log.level)) return;
    app.addHook('onResponse', (request, reply, next) => {
      request.log.info(
        { method: request.method, url: request.url, route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 },
        'request',
      );
      next();
    });
  },
  { name: 'request-log' },
);
