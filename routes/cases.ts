import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Acknowledgement, CaseEvent, CaseList, CaseListQuery, CaseParams, DEFAULT_CASE_PAGE, DeleteCaseParams, Discarded, Evaluation, ScoreQuery } from '../src/schemas/cases.js';
import { ENDINGS } from '../src/cases/case-errors.js';
import { refuseOtherCaseId } from '../src/http/case-id-mismatch.js';
import { refuseMisspeltAttributes } from '../src/http/misspelt-attributes.js';
import { ORDERED_PER_CONNECTION } from '../src/http/pipelining.js';
import { answer, errorResponse, errorResponses, JSON_TYPE } from '../src/schemas/common.js';

/** On an event that opened a new case under an id that ended lately. */
const REOPENED = {
  'x-petrascore-reopened': { type: 'string', enum: ENDINGS, description: 'the event opened a new case under an id that ended lately (--ended-case-memory); how that case ended' },
} as const;

const cases: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/cases/:id/events',
    {
      config: ORDERED_PER_CONNECTION,
      schema: {
        tags: ['streaming'],
        operationId: 'addCaseEvent',
        summary: 'Feed one event into a case (PETRA StreamingEvaluator.on_event)',
        description:
          'Creates the case on first sight and merges the attributes (latest wins). Answers 202 {case_id, n_events}; with scoring ' +
          '(?score=true or --score-every-event) 200 with the evaluation, or 202 with `not_scored` saying why the case cannot be scored yet. ' +
          'An event that opens a new case under an id that ended lately (--ended-case-memory) says how that one ended in `x-petrascore-reopened` (' + ENDINGS.join(', ') + '): the new case has none of its events.',
        params: CaseParams,
        querystring: ScoreQuery,
        body: CaseEvent,
        response: {
          200: answer(Evaluation, 'stored and scored: the case\'s evaluation after this event', REOPENED),
          202: answer(Acknowledgement, 'stored, not scored', REOPENED),
          ...errorResponses(400, 413, 415, 422, 503),
        },
      },
    },
    async (request, reply) => {
      refuseMisspeltAttributes(request.body, '');
      refuseOtherCaseId(request.body, request.params.id);
      const score = request.query.score ?? app.scoreEveryEvent;
      const outcome = await app.cases.onEvent(request.params.id, request.body, score);
      // The event opened a new case under an id that ended lately: its earlier events are not in it.
      if (outcome.reopened !== undefined) reply.header('x-petrascore-reopened', outcome.reopened);
      if (outcome.kind === 'evaluated') return reply.code(200).type(JSON_TYPE).serializer(app.petra.json.evaluation).send(outcome.evaluation);
      return reply.code(202).send(outcome.ack);
    },
  );

  app.get(
    '/cases/:id',
    {
      config: ORDERED_PER_CONNECTION,
      schema: {
        tags: ['streaming'],
        operationId: 'scoreCase',
        summary: 'Score an open case without closing it (score_case)',
        description: 'Publishes the evaluation on the live feed (and an alert if it reaches the threshold). HEAD /cases/{id} asks only whether the case is open: 200, else 404, without scoring it.',
        params: CaseParams,
        response: { 200: answer(Evaluation, 'the open case scored as it stands (it stays open)'), ...errorResponses(400, 404, 422, 503) },
      },
      // HEAD must be safe (RFC 9110): run as this GET, a probe would score the case, publish it and fire alert webhooks.
      exposeHeadRoute: false,
    },
    async (request, reply) => {
      const evaluation = await app.cases.scoreCase(request.params.id);
      return reply.type(JSON_TYPE).serializer(app.petra.json.evaluation).send(evaluation);
    },
  );

  app.head(
    '/cases/:id',
    {
      config: {
        ...ORDERED_PER_CONNECTION,
        // @fastify/swagger leaves HEAD routes out unless asked: this one is a route of its own, not GET's shadow. It
        // suffixes a HEAD route's operationId with "-head", which client generators turn into odd method names.
        swagger: { exposeHeadRoute: true },
        swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, operationId: 'caseIsOpen' }, url }),
      },
      schema: {
        tags: ['streaming'],
        operationId: 'caseIsOpen',
        summary: 'Whether a case is open (200, else 404), without scoring it',
        params: CaseParams,
        response: { 200: Type.Null({ description: 'no body' }), ...errorResponses(400, 404) },
      },
    },
    async (request, reply) => {
      await app.cases.mustBeOpen(request.params.id);
      // No body and no content-length: a GET's length is known only once the case is scored (RFC 9110 lets HEAD omit
      // it). Fastify sets none for an undefined payload on HEAD; its types ask for the schema's null, which it would
      // count as 4 bytes.
      return reply.type(JSON_TYPE).send(undefined as unknown as null);
    },
  );

  app.post(
    '/cases/:id/close',
    {
      config: ORDERED_PER_CONNECTION,
      schema: {
        tags: ['streaming'],
        operationId: 'closeCase',
        summary: 'Score a case a final time and free it (close_case)',
        description:
          'Answers the evaluation with closed: true. A case that cannot be scored stays open and the answer is 422 with the reason (send the missing attribute with its next event, or DELETE the case). The same id afterwards starts a fresh case. ' +
          "A close of a case that is not open is a 404, as PETRA's close answers None; its message says how and when the case ended, if it did lately (--ended-case-memory). " +
          'With --repeat-close, a close repeated after the case closed (a retry after a timeout) answers the same evaluation again, with `x-petrascore-repeated: true`, and publishes nothing.',
        params: CaseParams,
        response: {
          200: answer(Evaluation, 'the final evaluation; the case is closed and freed', {
            'x-petrascore-repeated': { type: 'string', enum: ['true'], description: 'with --repeat-close: this close repeats one already answered, and its evaluation is that answer again' },
          }),
          ...errorResponses(400, 404, 413, 415, 422, 503),
        },
      },
    },
    async (request, reply) => {
      const evaluation = await app.cases.closeCase(request.params.id);
      if (evaluation.repeated) reply.header('x-petrascore-repeated', 'true');
      return reply.type(JSON_TYPE).serializer(app.petra.json.evaluation).send(evaluation);
    },
  );

  app.delete(
    '/cases/:id',
    {
      config: ORDERED_PER_CONNECTION,
      schema: {
        tags: ['streaming'],
        operationId: 'deleteCase',
        summary: 'Drop an open case without scoring it',
        description:
          'For a case that cannot be scored (an attribute its spec needs never came, so a close answers 422) and can take no more events, or one the ' +
          'workflow abandoned. Published on the live feed as case_evicted with reason `deleted`, and counted as an eviction. The same id afterwards starts a fresh case.',
        params: DeleteCaseParams,
        // A DELETE may carry a body, which is read (and refused) as a close's is: a body beyond --body-limit is a 413,
        // one that is not JSON a 415, so a generated client has to know both.
        response: {
          200: answer(Discarded, 'the case is dropped, unscored'),
          ...errorResponses(400, 404, 413, 415),
          // Refused once the open cases are saved for a restart: dropped here, the case would come back from the file.
          503: errorResponse('`shutting_down`: this instance is closing and has saved its open cases (--case-state-file); send the request again, to the restarted instance or another'),
        },
      },
    },
    async (request) => app.cases.discardCase(request.params.id),
  );

  app.get(
    '/cases',
    {
      config: ORDERED_PER_CONNECTION,
      schema: {
        tags: ['streaming'],
        operationId: 'listCases',
        summary: 'List open case ids, sorted',
        description:
          'An operator\'s listing, in code-unit order; page with `after` (the last id of the previous page). Each page scans every open id: at 100,000 open cases it holds the server for a few milliseconds (tens with long ids), so do not poll it.',
        querystring: CaseListQuery,
        response: { 200: answer(CaseList, 'a page of open case ids'), ...errorResponses(400) },
      },
    },
    async (request) => ({ count: app.cases.openCases, case_ids: app.cases.listCases(request.query.limit ?? DEFAULT_CASE_PAGE, request.query.after) }),
  );
};

export default cases;
