import fp from 'fastify-plugin';
import { ServiceMetrics } from '../metrics/service-metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ServiceMetrics;
  }
}

/** Creates the app's metrics and times every request by its route pattern (not its URL, which would explode labels). */
export const metricsPlugin = fp(
  async (app) => {
    const metrics = new ServiceMetrics();
    app.decorate('metrics', metrics);
    app.addHook('onResponse', async (request, reply) => {
      const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    });
  },
  { name: 'metrics' },
);
