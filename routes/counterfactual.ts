import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { levelsPerCall } from '../src/diagnostics/bisection.js';
import { findCounterfactual } from '../src/diagnostics/counterfactual.js';
import { netNodes } from '../src/diagnostics/net-nodes.js';
import { checkInputCounts } from '../src/http/request-limit.js';
import { answer, errorResponse, errorResponses } from '../src/schemas/common.js';
import { CounterfactualRequest, CounterfactualResponse } from '../src/schemas/diagnostics.js';

const counterfactual: FastifyPluginAsyncTypebox<{ maxBatchRows: number; maxEventsPerRequest: number }> = async (app, { maxBatchRows, maxEventsPerRequest }) => {
  const { net, bundle } = app.petra;
  const nodes = netNodes(net, bundle.sidecar);
  const levels = levelsPerCall(maxBatchRows, net.outputs.length);
  const model = app.petra.batcher;

  app.post(
    '/counterfactual',
    {
      schema: {
        tags: ['diagnostics'],
        operationId: 'counterfactual',
        summary: "The input value at which a transition's activation crosses 0.5 (PETRA /counterfactual)",
        description:
          "PETRA's request and response: bisection of flip_place's input over search_range (float64 bracket, float32 activations) until " +
          'target_transition\'s activation is within tolerance of 0.5 or the bracket is narrower than 1e-4 of the range, at most 50 midpoints. ' +
          "Computed with forward passes of the ONNX graph only, batched: the first inference call evaluates the bisection's first levels as a " +
          'grid over the range, a second (rarely a third) the levels below inside the bracket, so the answer is the bisection\'s, in 1–2 ONNX runs ' +
          '(at the default --max-batch-rows; a smaller one covers fewer levels a call) instead of up to 53. `nearest: true` answers the crossing nearest to the fed input when there are several. Only ONNX inputs can be ' +
          'flipped and only ONNX outputs targeted (422 otherwise; GET /schema lists flippable_places). Where PETRA answers 500 (flip_channel ' +
          '"value" without input_values[flip_place]), this is a 422 missing_flip_value.',
        body: CounterfactualRequest,
        response: {
          200: answer(CounterfactualResponse, 'the counterfactual, or found: false when the activation does not cross 0.5 on search_range'),
          ...errorResponses(413, 415, 503),
          400: errorResponse(
            "invalid request (validation_error, invalid_input, invalid_search_range for lo > hi), or PETRA's own 400s: unknown_place (\"flip_place '…' is not in the net's place set\"), then unknown_transition (\"target_transition '…' is not in the net's transition set\")",
          ),
          422: errorResponse(
            'place_not_flippable: flip_place is a place but no ONNX input on flip_channel; transition_not_output: target_transition is no ONNX output; missing_flip_value: flip_channel "value" without input_values[flip_place]',
          ),
        },
      },
    },
    async (request) => {
      checkInputCounts(request.body, maxEventsPerRequest);
      return findCounterfactual(model, nodes, request.body, levels);
    },
  );
};

export default counterfactual;
