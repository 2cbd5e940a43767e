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
    // prom-client hashes a label object on every call; the label sets are few, so their children are kept.
    const children = new Map<string, { requests: { inc(): void }; duration: { observe(value: number): void } }>();
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const key = `${request.method} ${route} ${reply.statusCode}`;
      let child = children.get(key);
      if (child === undefined) {
        const labels = [request.method, route, String(reply.statusCode)] as const;
        child = { requests: metrics.httpRequests.labels(...labels), duration: metrics.httpDuration.labels(...labels) };
        children.set(key, child);
      }
      child.requests.inc();
      child.duration.observe(reply.elapsedTime / 1000);
    });
  },
  { name: 'metrics' },
);
