import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { refuseMisspeltAttributes } from '../src/http/misspelt-attributes.js';
import { checkCount, checkResiduals } from '../src/http/request-limit.js';
import { StreamScoreQuery, StreamRequest, StreamResponse } from '../src/schemas/cases.js';
import { ORDERED_PER_CONNECTION } from '../src/http/pipelining.js';
import { answer, errorResponses, JSON_TYPE } from '../src/schemas/common.js';

const events: FastifyPluginAsyncTypebox<{ maxEventsPerRequest: number; maxResidualsPerRequest: number }> = async (app, { maxEventsPerRequest, maxResidualsPerRequest }) => {
  app.post(
    '/events',
    {
      config: ORDERED_PER_CONNECTION,
      schema: {
        tags: ['streaming'],
        operationId: 'addEvents',
        summary: 'Feed many events for many cases, in order (PETRA process_stream)',
        description:
          'For backfills. Each event is applied as by POST /cases/{id}/events; results come one per event in order: the evaluation when scoring, ' +
          'else the acknowledgement (with `not_scored` when scoring was asked for but impossible), or `rejected` when a case limit refused the event. ' +
          'An event that opens a new case under an id that ended lately (--ended-case-memory) says how that one ended in its result\'s `reopened` ' +
          '(as x-petrascore-reopened does on POST /cases/{id}/events): the new case has none of its events.',
        querystring: StreamScoreQuery,
        body: StreamRequest,
        response: { 200: answer(StreamResponse, 'every event applied, with the evaluations asked for'), ...errorResponses(400, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      checkCount('body/events', request.body.events.length, maxEventsPerRequest, 'events');
      request.body.events.forEach((event, i) => refuseMisspeltAttributes(event, `/events/${i}`));
      const score = request.query.score ?? app.scoreEveryEvent;
      if (score) checkResiduals('body/events', request.body.events.length, 'scored events', app.petra.net.outputs.length, maxResidualsPerRequest);
      const results = await app.cases.processStream(request.body.events, score);
      let accepted = 0;
      // A refused event is the 422 that POST /cases/{id}/events would answer: counted alike.
      for (const result of results) {
        if ('rejected' in result) app.metrics.clientErrors.inc({ error: result.rejected.limit });
        else accepted++;
      }
      return reply.type(JSON_TYPE).serializer(app.petra.json.stream).send({ accepted, results });
    },
  );
};

export default events;
