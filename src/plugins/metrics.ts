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
    app.addHook('onResponse', (request, reply, next) => {
      metrics.http.record(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
      next();
    });
  },
  { name: 'metrics' },
);
