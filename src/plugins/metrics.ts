import fp from 'fastify-plugin';
import { ServiceMetrics } from '../metrics/service-metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ServiceMetrics;
  }
}

/** Creates the app's metrics (requests are timed by the request-tracking plugin, the rest where they happen). */
export const metricsPlugin = fp(
  async (app) => {
    const metrics = new ServiceMetrics();
    const open = app.openResponses;
    metrics.requestsInFlight.readFrom(() => open.size);
    metrics.serviceState.readFrom(() => app.serviceState());
    app.decorate('metrics', metrics);
  },
  { name: 'metrics', dependencies: ['lifecycle'] },
);
