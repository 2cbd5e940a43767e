import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import fp from 'fastify-plugin';
import { ServerClosingError } from '../http/describe-error.js';
import { afterEarlierAnswers } from '../http/pipelining.js';
import type { OpenResponses } from '../http/open-responses.js';
import type { RouteRecorder } from '../metrics/route-timings.js';
import type { RequestLogSetting } from '../config/options.js';
import { answerSeen, logAbandonedRequest, logCutAnswer, requestLines } from './request-log.js';

type TrackingHook = (request: FastifyRequest, reply: FastifyReply, next: HookHandlerDoneFunction) => void;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route reads or changes case state: on a pipelined connection its requests are handled in arrival order. */
    orderedPerConnection?: boolean;
  }

  interface FastifyInstance {
    /**
     * The tracking hook for answers given outside the routes (404s, 405s, URLs refused before routing), under the label
     * `route`; one per label.
     */
    requestTracker: (route: string) => TrackingHook;
    /**
     * A request whose client went away before its tracking hook ran (an unknown URL is tracked after its body, when
     * the not-found handler runs): counted and timed under status 499 and `route`, with its line, as tracked ones are.
     */
    abandonedBeforeTracking: (route: string, request: FastifyRequest, ms: number) => void;
  }
}

/**
 * What every request needs, in one hook: its id echoed in `x-request-id`, its response kept among those in flight (for
 * the shutdown drain), and, when the response closes, its time recorded by route pattern (not URL, which would explode
 * the labels). One hook bound to each route when it is declared: three hooks, one of them at response end, and
 * Fastify's per-request route-options object cost measurable throughput (1.03× with none of them, side by side).
 *
 * The response's `close` event comes for every response, answered or abandoned by its client at any stage, where
 * Fastify's onResponse and onRequestAbort hooks missed requests whose client went away at the end of a load test (the
 * session close then waited for them forever). A client that goes away first closes the response before its head is
 * sent: it is counted and timed under status 499, as nginx logs a client that closed its request, so that an error
 * rate or latency SLO sees the webhook callers that gave up waiting (they had been in no metric at all). A /live stream
 * is timed when it closes, whoever closed it: its time is the stream's.
 */
export const requestTrackingPlugin = fp<{ requestLog: RequestLogSetting }>(
  async (app, options) => {
    const open = app.openResponses;
    // Two variants, so that without request lines (--request-log none, or a level above info) no closure per request
    // holds the request. --request-log errors keeps the abandoned requests' lines: a client that gave up is news.
    const track = requestLines(app.log.level, options.requestLog) === 'none' ? trackOnly : trackAndLogAbandoned;
    // `proceed`: at once, or (case routes) once the answers before it on its connection are written.
    const trackThen =
      (proceed: (reply: FastifyReply, next: HookHandlerDoneFunction) => void) =>
      (recorder: RouteRecorder): TrackingHook =>
      (request, reply, next) => {
        reply.header('x-request-id', request.id);
        track(open, recorder, request, reply.raw);
        if (app.closing) refuseWhileClosing(reply, next);
        else proceed(reply, next);
      };
    const tracker = trackThen((_reply, next) => next());
    const orderedTracker = trackThen((reply, next) => afterEarlierAnswers(reply.raw, next));
    const outside = new Map<string, TrackingHook>();
    app.decorate('requestTracker', (route: string) => {
      let hook = outside.get(route);
      if (hook === undefined) outside.set(route, (hook = tracker(app.metrics.http.forRoute(route))));
      return hook;
    });
    app.decorate('abandonedBeforeTracking', (route: string, request: FastifyRequest, ms: number) => {
      app.metrics.http.forRoute(route).record(request.method, ABANDONED_STATUS, ms / 1000);
      if (track === trackAndLogAbandoned) logAbandonedRequest(request, ms);
    });
    app.addHook('onRoute', (route) => {
      const own = (route.config?.orderedPerConnection === true ? orderedTracker : tracker)(app.metrics.http.forRoute(route.url));
      route.onRequest = route.onRequest === undefined ? own : [own, ...[route.onRequest].flat()];
    });
  },
  { name: 'request-tracking', dependencies: ['lifecycle', 'metrics'] },
);

/**
 * A request on a keep-alive connection after the server began to close: our 503 (Fastify's return503OnClosing is off,
 * its body had another shape and its log line another form), and the connection is not kept.
 */
function refuseWhileClosing(reply: FastifyReply, next: HookHandlerDoneFunction): void {
  reply.header('connection', 'close');
  next(new ServerClosingError());
}

/** The status a request whose client went away before its answer is counted under (nginx's "client closed request"). */
const ABANDONED_STATUS = 499;

function trackOnly(open: OpenResponses, recorder: RouteRecorder, request: FastifyRequest, response: ServerResponse): void {
  const started = performance.now();
  const slot = open.add(response, request.id);
  const method = request.method;
  response.on('close', () => {
    open.release(slot, response);
    // Answered when its head was sent (ending a response sends it; a /live stream its client closed has sent it too);
    // otherwise its client went away first.
    recorder.record(method, response.headersSent ? response.statusCode : ABANDONED_STATUS, (performance.now() - started) / 1000);
  });
}

/**
 * trackOnly, and the line of a request whose client went away before its answer, or while it was being sent (ended,
 * but Fastify's onResponse, which comes at the finish, never came). A /live stream its client closed was never ended:
 * its route writes its line. (writableFinished would do without the set, but an injected response never sets it.)
 */
function trackAndLogAbandoned(open: OpenResponses, recorder: RouteRecorder, request: FastifyRequest, response: ServerResponse): void {
  const started = performance.now();
  const slot = open.add(response, request.id);
  response.on('close', () => {
    open.release(slot, response);
    const ms = performance.now() - started;
    recorder.record(request.method, response.headersSent ? response.statusCode : ABANDONED_STATUS, ms / 1000);
    if (!response.headersSent) logAbandonedRequest(request, ms);
    else if (response.writableEnded && !answerSeen(request)) logCutAnswer(request, response.statusCode, ms);
  });
}
