import fp from 'fastify-plugin';

/** One log line per request (id, route, status, latency) instead of Fastify's two, and the id echoed to the caller. */
export const requestLogPlugin = fp(
  async (app) => {
    app.addHook('onSend', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
    app.addHook('onResponse', async (request, reply) => {
      request.log.info(
        { method: request.method, url: request.url, route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 },
        'request',
      );
    });
  },
  { name: 'request-log' },
);
