import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AnomalyAnswer, BatchAnswer } from '../src/http/score-json.js';
import { scoreTraceBatch } from '../src/http/score-trace-batch.js';
import { checkCount, checkResiduals, checkTraceLimits } from '../src/http/request-limit.js';
import { prepareTrace } from '../src/scoring/prepare-trace.js';
import { AnomalyBatchRequest, AnomalyBatchResponse, AnomalyRequest, AnomalyResponse, TracesEnvelope } from '../src/schemas/anomaly.js';
import { checkingBodyAs } from '../src/http/validator-compiler.js';
import { answer, errorResponses, JSON_TYPE } from '../src/schemas/common.js';

const anomaly: FastifyPluginAsyncTypebox<{ maxEventsPerRequest: number; maxResidualsPerRequest: number }> = async (app, { maxEventsPerRequest, maxResidualsPerRequest }) => {
  app.post(
    '/anomaly',
    {
      schema: {
        tags: ['scoring'],
        operationId: 'scoreTrace',
        summary: 'Score one whole trace (PETRA /anomaly)',
        description:
          "PETRA's request and response. residual = |activation − observed| per scored transition, trace_score their sum. " +
          'Without input_marking the marking is derived from `attributes` through the bundle\'s specs; a missing or non-numeric attribute is a 422.',
        body: AnomalyRequest,
        response: { 200: answer(AnomalyResponse, 'the trace\'s score'), ...errorResponses(400, 413, 415, 422, 503) },
      },
    },
    async (request, reply) => {
      checkTraceLimits(request.body, maxEventsPerRequest);
      const { row, observed, ignored } = prepareTrace(app.petra.net, request.body);
      const started = performance.now();
      const score = await app.petra.scorer.scoreRow(row, observed);
      app.live.anomaly(request.id, request.body, score, observed, performance.now() - started);
      reply.type(JSON_TYPE).serializer(app.petra.json.anomaly);
      return new AnomalyAnswer(score, ignored);
    },
  );

  app.post(
    '/anomaly/batch',
    {
      schema: {
        tags: ['scoring'],
        operationId: 'scoreTraces',
        summary: 'Score many traces in one ONNX run',
        description: 'Each item is an /anomaly body. Results come in input order; a bad item gets an `error` entry (same shape as an error response) and does not fail the request.',
        body: AnomalyBatchRequest,
        response: { 200: answer(AnomalyBatchResponse, 'one result per trace, in input order: a score or an error'), ...errorResponses(400, 413, 415, 503) },
      },
      // The body is documented as /anomaly bodies; only its envelope is checked here, each item by scoreTraceBatch.
      validatorCompiler: checkingBodyAs(TracesEnvelope),
    },
    async (request, reply) => {
      checkCount('body/traces', request.body.traces.length, maxEventsPerRequest, 'traces');
      checkResiduals('body/traces', request.body.traces.length, 'traces', app.petra.net.outputs.length, maxResidualsPerRequest);
      const started = performance.now();
      const traces: readonly unknown[] = request.body.traces;
      const { outcome, scored } = await scoreTraceBatch(app.petra.net, app.petra.scorer, traces, maxEventsPerRequest);
      const latencyMs = performance.now() - started;
      for (const item of outcome.results) if (!(item instanceof BatchAnswer)) app.metrics.clientErrors.inc({ error: item.error.error });
      app.live.anomalyBatch(request.id, scored, latencyMs);
      reply.type(JSON_TYPE).serializer(app.petra.json.batch);
      return outcome;
    },
  );
};

export default anomaly;
