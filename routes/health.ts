import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { answer, errorResponse } from '../src/schemas/common.js';
import { Health, Readiness } from '../src/schemas/service.js';
import { PETRASCORE_VERSION } from '../src/version.js';

const health: FastifyPluginAsyncTypebox = async (app) => {
  const { sidecar } = app.petra.bundle;
  const body = { status: 'ok' as const, version: PETRASCORE_VERSION, n_places: sidecar.places?.length ?? 0, n_transitions: Object.keys(sidecar.transition_labels).length };
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['service'],
        operationId: 'getHealth',
        summary: "Liveness: the process is up and can score (PETRA's /healthz fields); 503 once it cannot and must be restarted",
        response: {
          200: answer(Health, 'the process is up'),
          503: errorResponse('inference_unavailable: the inference worker stopped; the process shuts down and must be restarted'),
        },
      },
    },
    async () => {
      // Answered as a scoring request is (the errors plugin writes and logs it): the same 503 and the same words.
      const failure = app.failure();
      if (failure !== undefined) throw failure;
      return body;
    },
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['service'],
        operationId: 'getReadiness',
        summary: 'Readiness: 200 while serving, 503 once shutting down or failed (the server listens only after the model is loaded and warmed up)',
        response: {
          200: answer(Readiness, 'ready: serving'),
          503: answer(Readiness, 'draining: shutting down, or failed: the inference worker stopped; take this instance out of rotation'),
        },
      },
    },
    async (_request, reply) => {
      const status = app.serviceState();
      return reply.code(status === 'ready' ? 200 : 503).send({ status });
    },
  );
};

export default health;
