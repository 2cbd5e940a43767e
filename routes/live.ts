import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { BUS_EVENT_TYPES, SnapshotEvent, type BusEventType } from '../src/live/events.js';
import type { LiveFilter } from '../src/live/filter.js';
import { sseRetry } from '../src/live/sse.js';
import { LiveHeaders, LiveQuery, LiveSnapshotQuery, LiveStreamResponse, liveUnavailable } from '../src/live/schemas.js';
import { errorResponses, refTo } from '../src/schemas/common.js';
import { noteErrorClass } from '../src/plugins/request-log.js';
import { ServerClosingError } from '../src/http/describe-error.js';

/** How long an EventSource waits before reconnecting after the stream ends. */
const RECONNECT_MS = 1000;

function filterOf(query: { types?: string | undefined; lane?: string | undefined; case?: string | undefined; min_score?: number | undefined }): LiveFilter {
  const types = query.types === undefined ? undefined : new Set(query.types.split(',').map((t) => t.trim()).filter((t): t is BusEventType => (BUS_EVENT_TYPES as readonly string[]).includes(t)));
  return { types, lane: query.lane, caseId: query.case, minScore: query.min_score };
}

/**
 * The id to resume after. The header wins over the query: a page that reconnected itself with ?last_event_id= keeps
 * that URL, and its EventSource's own reconnects carry the newer id in the header. Empty means none, in either.
 */
function lastEventIdOf(header: string | string[] | undefined, query: string | undefined): string | undefined {
  const fromHeader = Array.isArray(header) ? header[0] : header;
  if (fromHeader !== undefined && fromHeader.trim() !== '') return fromHeader;
  return query !== undefined && query.trim() !== '' ? query : undefined;
}

const live: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/live',
    {
      schema: {
        tags: ['live'],
        operationId: 'streamLive',
        summary: 'Server-Sent Events feed of every evaluation, alert and case change',
        description:
          'A `text/event-stream`: each event has `id:` (one increasing sequence, unique to this server instance: it starts at a random number of its own, so that an id from another instance or from before a restart gets a `gap`), `event:` (its type) and one `data:` line of JSON; an idle stream gets a heartbeat (a comment, and an `id:` line without data: the last event the stream has passed, sent or filtered out, for EventSource to resume from). ' +
          'A new connection starts with a `snapshot` (open cases, recent alerts, stats). A reconnect with `Last-Event-ID` (header, as EventSource sends it, or `last_event_id`; the header wins when both are given, an empty one counts as none) ' +
          'receives exactly the events after that id while they are in the ring (--live-ring-size), or for a reader of alerts alone (`types=alert`) while every alert after it is in the ring or the alert history (--live-alert-history); an older or unknown id gets a `gap` event and a snapshot. ' +
          'A client that stays blocked more than --live-subscriber-buffer events behind for longer than --live-subscriber-grace is disconnected and can resume. Beyond --live-max-subscribers: 503. ' +
          "Swagger UI's Try it out waits for the response to end, which a stream never does, and shows nothing while it holds a subscriber slot: watch it with `curl -N` or /dashboard, or read /live/snapshot here.",
        querystring: LiveQuery,
        headers: LiveHeaders,
        response: { 200: LiveStreamResponse, ...errorResponses(400), 503: liveUnavailable },
      },
    },
    async (request, reply) => {
      // Answered as every route answers then: shutting_down, or inference_unavailable once the worker has stopped (the
      // instance is about to drain and exit). The errors plugin counts and logs it.
      const state = app.serviceState();
      if (state === 'failed') throw app.failure() ?? new ServerClosingError();
      if (state === 'draining') throw new ServerClosingError();
      if (!app.live.hasRoom()) {
        noteErrorClass(request, 'too_many_subscribers');
        return reply
          .code(503)
          .header('retry-after', '5')
          .send({ error: 'too_many_subscribers', message: `${app.live.bus.subscriberCount} /live streams are open, the most allowed (--live-max-subscribers)`, details: [] });
      }
      // HEAD: the stream's headers only. Run as GET, it would subscribe and hold a connection that can carry nothing.
      if (request.method === 'HEAD') return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-cache, no-transform').send();
      const lastEventId = lastEventIdOf(request.headers['last-event-id'], request.query.last_event_id);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      request.raw.socket.setNoDelay(true);
      const subscriber = app.live.subscribe(res, filterOf(request.query), { lastEventId, snapshot: request.query.snapshot }, sseRetry(RECONNECT_MS));
      res.once('close', () => {
        app.live.bus.unsubscribe(subscriber, 'client_closed');
        // A stream the server ended (shutdown, a subscriber cut off) got Fastify's onResponse line already.
        if (!res.writableEnded) app.requestLine(request, 200, reply.elapsedTime);
      });
    },
  );

  app.get(
    '/live/snapshot',
    {
      schema: {
        tags: ['live'],
        operationId: 'getLiveSnapshot',
        summary: 'The current picture as JSON: the snapshot a new /live connection starts with',
        querystring: LiveSnapshotQuery,
        response: { 200: refTo(SnapshotEvent), ...errorResponses(400) },
      },
    },
    // Its query's fields alone: a `types` that /live takes would reach filterOf unvalidated here (the schema has no such
    // field), and any value of it, a typo included, emptied the board without a word.
    async ({ query }) => app.live.snapshot(filterOf({ lane: query.lane, case: query.case, min_score: query.min_score })),
  );
};

export default live;
