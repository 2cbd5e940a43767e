import { isUtf8 } from 'node:buffer';
import { errorCodes, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { describeError, MalformedJsonError, ServerClosingError, UnexpectedBodyError, UnsupportedCharsetError, UnsupportedEncodingError, type RequestParts } from '../http/describe-error.js';
import { shortened } from '../scoring/quote-value.js';
import type { ErrorBody } from '../schemas/common.js';
import { noteAnswerSeen, noteErrorClass } from './request-log.js';

function send(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  noteErrorClass(reply.request, body.error);
  return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
}

/** Turns a concrete path into a route pattern matcher (`/cases/:id/close` → /^\/cases\/[^/]+\/close$/). */
function patternOf(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}/?$`);
}

function partsOf(request: FastifyRequest): RequestParts {
  const schema = request.routeOptions.schema;
  const contentType = request.headers['content-type'];
  return {
    body: request.body,
    querystring: request.query,
    params: request.params,
    schema: schema === undefined ? undefined : { body: schema.body, querystring: schema.querystring, params: schema.params },
    contentType,
  };
}

/** Why a body the default parser refused is not acceptable JSON: the parser's own message (with the position), or the prototype key. */
function jsonProblem(body: string): { reason: string; refused: boolean } {
  try {
    JSON.parse(body);
  } catch (error) {
    return { reason: error instanceof Error ? error.message : String(error), refused: false };
  }
  return { reason: 'it is valid JSON, but it has a "__proto__" key or a "constructor" key with a "prototype" (refused against prototype poisoning)', refused: true };
}

const NOT_UTF8 =
  'it is not valid UTF-8, which JSON must be (RFC 8259): it holds bytes that decode to U+FFFD (was it sent as Latin-1 or Windows-1252?)';

/** The route declares no body schema: a close, a GET. */
function takesNoBody(request: FastifyRequest): boolean {
  return request.routeOptions.schema?.body === undefined;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function refuseBody(request: FastifyRequest, _reply: FastifyReply, next: (error?: Error) => void): void {
  if (isNothing(request.body)) next();
  else next(new UnexpectedBodyError(request.method, request.url.split('?')[0] ?? request.url));
}

/** What a client library sends as "no body" with a JSON content type: nothing, null, or an empty object. */
function isNothing(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'object' && !Array.isArray(value) && Object.keys(value as object).length === 0);
}

/**
 * Why a body is not JSON, when its headers say: a transfer coding beside chunked (`gzip, chunked`; Node removes the
 * chunking only, so the parser saw compressed bytes), or a charset other than UTF-8 (Latin-1, UTF-16). Asked only once
 * a body has failed, so that an ordinary request reads no header for it; a body in another charset that is valid UTF-8
 * as well (ASCII declared as Latin-1) is simply read. `encodedOtherwise`: the body shows it is not UTF-8 text (bytes
 * that are not UTF-8, or NULs, which UTF-16 makes of ASCII); when it does not, a body that fails to parse is only
 * malformed JSON, whatever charset it declares, and its syntax error is the answer.
 */
function whyNotJson(request: FastifyRequest, error: Error, encodedOtherwise: boolean): Error {
  const codings = request.headers['transfer-encoding'];
  if (codings !== undefined && !codings.split(',').every((c) => ['', 'chunked'].includes(c.trim().toLowerCase()))) {
    return new UnsupportedEncodingError(codings, 'transfer-encoding');
  }
  if (!encodedOtherwise) return error;
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
  if (charset !== undefined && !['utf-8', 'utf8'].includes(charset.toLowerCase())) return new UnsupportedCharsetError(charset);
  return error;
}

/**
 * A body-less route's hook (onRequest): a Content-Type on a request that declares no body describes nothing, and Fastify
 * refuses one it cannot parse (`json`, an empty value, `application/json, text/plain`) with a 415 before any parser or
 * preValidation hook runs. Dropping it lets the empty body through as if it had none. A body that is not known to be
 * empty from its headers (chunked) keeps its type, for the parsers to judge.
 */
function ignoreTypeOfEmptyBody(request: FastifyRequest, _reply: FastifyReply, next: () => void): void {
  const headers = request.raw.headers;
  if (headers['content-type'] !== undefined && headers['transfer-encoding'] === undefined && (headers['content-length'] ?? '0') === '0') delete headers['content-type'];
  next();
}

/** The body's Content-Encoding when it is one the service would have to decode (it decodes none). */
function compressedWith(request: FastifyRequest): string | undefined {
  const encoding = request.headers['content-encoding']?.trim();
  return encoding === undefined || encoding === '' || encoding.toLowerCase() === 'identity' ? undefined : encoding;
}

/**
 * For the Fastify option `frameworkErrors` (errors raised before routing, which no error handler sees: a URL that is
 * not valid percent-encoding, a path parameter longer than the router's `maxParamLength`): the same JSON error body.
 */
export function frameworkErrorHandler(bodyLimit: number): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, request, reply) => {
    const { status, body } = describeError(error, bodyLimit, { url: request.url });
    // No route's hook sees a request refused before routing: it is tracked, counted and logged here, like a 404 (its
    // one line: Fastify's onResponse does not run for it), unless --request-log none.
    const app = request.server;
    app.requestTracker('unmatched')(request, reply, () => undefined);
    app.metrics.clientErrors.inc({ error: body.error });
    if (app.requestLog !== 'none') request.log.info({ method: request.method, url: request.url, status, error: body.error }, 'refused before routing');
    noteAnswerSeen(request);
    void send(reply, status, body);
  };
}

/**
 * Uniform JSON errors: validation, body limits, domain errors, 404 for unknown routes and 405 for wrong methods. Bodies
 * are JSON only (Fastify's text/plain parser is removed, so a text body is a 415 rather than a confusing type error),
 * and a body that is not JSON is answered with the parser's reason and position.
 */
export const errorsPlugin = fp<{ bodyLimit: number }>(
  async (app: FastifyInstance, options) => {
    const routes: { pattern: RegExp; methods: Set<string> }[] = [];
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      // A route that takes no body refuses one, where it would silently drop it (an event sent with a close). Bound to
      // those routes alone: asking any request for its route options builds an object each time (measured on /anomaly).
      if (route.schema?.body === undefined && methods.some((m) => BODY_METHODS.has(m))) {
        route.preValidation = route.preValidation === undefined ? refuseBody : [refuseBody, ...[route.preValidation].flat()];
        // After the tracking hook, so that a refusal still has its request id.
        route.onRequest = route.onRequest === undefined ? ignoreTypeOfEmptyBody : [...[route.onRequest].flat(), ignoreTypeOfEmptyBody];
      }
      const existing = routes.find((r) => r.pattern.source === patternOf(route.url).source);
      if (existing) methods.forEach((m) => existing.methods.add(m));
      else routes.push({ pattern: patternOf(route.url), methods: new Set(methods) });
    });

    // Fastify's defaults (prototype poisoning refused), but with the reason a body is refused.
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser(['application/json', 'text/plain']);
    // The bytes, not a string: a U+FFFD in the text is either a literal one (valid UTF-8, EF BF BD) or bytes that are
    // not UTF-8, and only the bytes tell which. Fastify decodes a string from the same Buffer, so this costs one copy.
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      const encoding = compressedWith(request);
      if (encoding !== undefined) return done(new UnsupportedEncodingError(encoding), undefined);
      // Always a Buffer (parseAs), though Fastify's type allows a string.
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text === '' && takesNoBody(request)) return done(null, undefined);
      // Bytes that are not UTF-8 were read as U+FFFD: a Latin-1 'é' in an event name would silently match no label.
      // The text is searched first, which is free for the usual body (V8 answers at once for a string with no character
      // beyond Latin-1); the bytes are validated only when it holds a U+FFFD, which may have been sent as such.
      if (text.includes('\uFFFD') && typeof body !== 'string' && !isUtf8(body)) return done(whyNotJson(request, new MalformedJsonError(NOT_UTF8), true), undefined);
      void parseJson(request, text, (error, value) => {
        if (error === null || error === undefined) done(null, value);
        else if ((error as Partial<FastifyError>).code !== 'FST_ERR_CTP_INVALID_JSON_BODY') done(error, undefined);
        else {
          const problem = jsonProblem(text);
          done(whyNotJson(request, new MalformedJsonError(problem.reason, problem.refused), text.includes('\u0000')), undefined);
        }
      });
    });
    // A route that takes no body (a close, a GET) accepts an empty one of any type: curl -d '' sends
    // application/x-www-form-urlencoded, as the command Swagger UI shows for such a route does. Any other body that is
    // not JSON is a 415, as without this parser.
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
      if (body.length === 0 && takesNoBody(request)) return done(null, undefined);
      done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(request.headers['content-type']), undefined);
    });

    app.setErrorHandler((error, request, reply) => {
      // Answered already, and its connection closing (a stalled upload's 408): the body parser's error that follows is
      // not a second mistake to count or answer.
      if (reply.raw.headersSent && reply.raw.statusCode === 408) return;
      // The client went away while its body was being read: request tracking counts the request as abandoned, and
      // there is nobody to answer; the body reader's error (`aborted`, ECONNRESET) is no mistake of the client's.
      if (request.raw.destroyed && !reply.raw.headersSent && (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
        // An unknown URL's tracking hook (the not-found handler's preValidation) comes after its body: it never ran.
        if (request.is404 && !reply.hasHeader('x-request-id')) app.abandonedBeforeTracking('unmatched', request, reply.elapsedTime);
        return;
      }
      // No route matched, and the body was refused before the not-found handler ran: the URL or method is what is wrong.
      if (request.is404 && !(error instanceof ServerClosingError)) {
        // Its tracking hook (preValidation) did not run: it comes after the body is parsed.
        if (!reply.hasHeader('x-request-id')) app.requestTracker('unmatched')(request, reply, () => undefined);
        return answerUnmatched(request, reply);
      }
      const { status, body } = describeError(error, options.bodyLimit, partsOf(request));
      if (status < 500) {
        // HEAD /cases/{id} asks whether a case is open: its 404 is an answer, not a client's mistake.
        if (!(request.method === 'HEAD' && status === 404)) app.metrics.clientErrors.inc({ error: body.error });
        request.log.debug({ error: body.error, message: body.message }, 'client error');
      }
      // A 503 comes of the service's state (closing, a stopped inference worker), logged where it arose, and the
      // request's own line says it was refused (status 503, error shutting_down or inference_unavailable): a line
      // here was the request's second.
      else if (status !== 503) request.log.error({ err: error }, 'request failed');
      return send(reply, status, body);
    });

    // 404s and 405s have no route, so no route hook: they are tracked (id, in flight, timing) as `unmatched`.
    app.setNotFoundHandler({ preValidation: app.requestTracker('unmatched') }, (request, reply) => answerUnmatched(request, reply));

    /** 404 for an unknown URL, 405 with Allow for a known one asked with another method. */
    function answerUnmatched(request: FastifyRequest, reply: FastifyReply): FastifyReply {
      const path = request.url.split('?')[0] ?? request.url;
      // Quoted back shortened: an unknown URL may be as long as the header limit allows.
      const quoted = shortened(path);
      const allowed = new Set<string>();
      for (const route of routes) if (route.pattern.test(path)) route.methods.forEach((m) => allowed.add(m));
      // A route that takes this method and found nothing (a file the dashboard does not have) is a 404, not a 405.
      if (allowed.size > 0 && !allowed.has(request.method)) {
        const allow = [...allowed].sort().join(', ');
        reply.header('allow', allow);
        app.metrics.clientErrors.inc({ error: 'method_not_allowed' });
        return send(reply, 405, { error: 'method_not_allowed', message: `${request.method} is not allowed on ${quoted}; allowed: ${allow}`, details: [{ path: 'method', message: `allowed: ${allow}` }] });
      }
      app.metrics.clientErrors.inc({ error: 'not_found' });
      // A route answered, and found nothing: a static file route (the dashboard's, the docs') without that file.
      if (allowed.has(request.method)) return send(reply, 404, { error: 'not_found', message: `no such file: ${quoted}`, details: [{ path: 'url', message: 'no such file' }] });
      return send(reply, 404, { error: 'not_found', message: `no route ${request.method} ${quoted}; see /docs for the API`, details: [{ path: 'url', message: 'no such route' }] });
    }
  },
  { name: 'errors', dependencies: ['metrics', 'request-tracking'] },
);
