import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { answer } from '../src/schemas/common.js';
import { describeModel } from '../src/bundle/describe-model.js';
import { SchemaResponse } from '../src/schemas/service.js';

const schema: FastifyPluginAsyncTypebox = async (app) => {
  const description = describeModel(app.petra.bundle);
  app.get(
    '/schema',
    {
      schema: {
        tags: ['service'],
        operationId: 'getSchema',
        summary: 'What the loaded model expects',
        description: 'Places, transitions with labels, scored transitions in output order, input places per channel with defaults and specs, versions.',
        response: { 200: answer(SchemaResponse, 'what the served bundle expects and scores') },
      },
    },
    async () => description,
  );
};

export default schema;
