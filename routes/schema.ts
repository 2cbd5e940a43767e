import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { answer, JSON_TYPE } from '../src/schemas/common.js';
import { describeModel } from '../src/bundle/describe-model.js';
import { modelJson } from '../src/bundle/model-json.js';
import { SchemaResponse } from '../src/schemas/service.js';

const schema: FastifyPluginAsyncTypebox = async (app) => {
  const description = describeModel(app.petra.bundle);
  // Written once, its maps in id order (the schema serialiser would write an object's own order).
  const text = modelJson(description);
  app.get(
    '/schema',
    {
      schema: {
        tags: ['service'],
        operationId: 'getSchema',
        summary: 'What the loaded model expects',
        description:
          'Places, transitions with labels, scored transitions in output order, input places per channel with defaults and specs, versions. ' +
          'Places, and the keys of every map keyed by place or transition id, come in id order by code point, as PETRA sorts them.',
        response: { 200: answer(SchemaResponse, 'what the served bundle expects and scores') },
      },
    },
    async (_request, reply) => reply.type(JSON_TYPE).serializer(() => text).send(description),
  );
};

export default schema;
