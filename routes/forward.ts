import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { checkInputCounts } from '../src/http/request-limit.js';
import { escapePointer, rowFromRequest } from '../src/scoring/inputs.js';
import { ForwardAnswer } from '../src/http/score-json.js';
import { answer, errorResponses, JSON_TYPE } from '../src/schemas/common.js';
import { FORWARD_FIELDS, ForwardRequest, ForwardResponse } from '../src/schemas/forward.js';

const forward: FastifyPluginAsyncTypebox<{ maxEventsPerRequest: number }> = async (app, { maxEventsPerRequest }) => {
  app.post(
    '/forward',
    {
      schema: {
        tags: ['scoring'],
        operationId: 'forward',
        summary: 'Activations of the output transitions for a marking (PETRA /forward)',
        description:
          "Omitted inputs take the bundle's defaults; keys that are no ONNX input, and fields of the body it does not know (a misspelt input_values), are ignored and listed in ignored_inputs. PETRA also returns place activations, which the ONNX graph does not expose.",
        body: ForwardRequest,
        response: { 200: answer(ForwardResponse, 'the activations of the output transitions'), ...errorResponses(400, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      checkInputCounts(request.body, maxEventsPerRequest);
      const { row, ignored } = rowFromRequest(app.petra.net, request.body);
      const ignored_inputs = [...ignored];
      // A misspelt input_values would otherwise be fed its defaults without a word, as /anomaly's fields would be.
      for (const field in request.body) if (!FORWARD_FIELDS.has(field)) ignored_inputs.push(`/${escapePointer(field)}`);
      const activations = await app.petra.batcher.infer(row, 1);
      reply.type(JSON_TYPE).serializer(app.petra.json.forward);
      return new ForwardAnswer(app.petra.net, activations, ignored_inputs);
    },
  );
};

export default forward;
