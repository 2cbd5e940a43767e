import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Health, Readiness } from '../src/schemas/service.js';

const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', { schema: { tags: ['service'], summary: 'Liveness: the process is up', response: { 200: Health } } }, async () => ({ status: 'ok' as const }));

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['service'],
        summary: 'Readiness: 200 once the model is loaded and warmed up, 503 while starting or draining',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const status = app.serviceState();
      return reply.code(status === 'ready' ? 200 : 503).send({ status });
    },
  );
};

export default health;
