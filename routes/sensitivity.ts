import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { netNodes } from '../src/diagnostics/net-nodes.js';
import { computeSensitivity } from '../src/diagnostics/sensitivity.js';
import { checkInputCounts } from '../src/http/request-limit.js';
import { answer, errorResponse, errorResponses } from '../src/schemas/common.js';
import { SensitivityRequest, SensitivityResponse } from '../src/schemas/diagnostics.js';

const sensitivity: FastifyPluginAsyncTypebox<{ maxBatchRows: number; maxEventsPerRequest: number }> = async (app, { maxBatchRows, maxEventsPerRequest }) => {
  const { net, bundle } = app.petra;
  const nodes = netNodes(net, bundle.sidecar);
  const model = app.petra.batcher;

  app.post(
    '/sensitivity',
    {
      schema: {
        tags: ['diagnostics'],
        operationId: 'sensitivity',
        summary: "Gradients of a transition's activation with respect to the inputs (PETRA /sensitivity)",
        description:
          "PETRA's request and response: one gradient per key of input_marking and of input_values, in request order (keys like array indices, such as \"2\", first and ascending), 0.0 for keys that are no " +
          "ONNX input. PETRA differentiates exactly with autograd; over ONNX the gradients are finite differences by Ridders' method (central differences at " +
          'shrinking steps, extrapolated to step 0), every perturbed row in one inference call, each gradient with its own error estimate in `gradient_errors` ' +
          'and the method stated in `method`. `all: true` adds ranked_gradients: every exported input by decreasing |gradient|.',
        body: SensitivityRequest,
        response: {
          200: answer(SensitivityResponse, 'the gradients of the target activation'),
          ...errorResponses(413, 415, 503),
          400: errorResponse("invalid request (validation_error, invalid_input), or PETRA's own 400 unknown_transition (\"target_transition '…' is not in the net's transition set\")"),
          422: errorResponse('transition_not_output: target_transition is a transition of the net but no ONNX output'),
        },
      },
    },
    async (request) => {
      checkInputCounts(request.body, maxEventsPerRequest);
      return computeSensitivity(model, nodes, request.body);
    },
  );
};

export default sensitivity;
