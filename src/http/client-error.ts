import { maxHeaderSize, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { quoteValue } from '../scoring/quote-value.js';
import { MAX_CASE_ID_LENGTH } from '../schemas/cases.js';
import type { ErrorBody } from '../schemas/common.js';
import type { UploadCut } from './open-responses.js';
import type { RequestIds } from './request-id.js';

/** Counts and logs an answer Node's server made before Fastify had a request (no route, no hooks). */
export type OnRefused = (label: string, status: number, requestId: string) => void;

/** A JSON error through a response Node still holds: `connection: close` makes Node end the connection after it. */
function answerAndClose(response: ServerResponse, status: number, body: ErrorBody, requestId?: string): void {
  const text = JSON.stringify(body);
  const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), connection: 'close' };
  response.writeHead(status, requestId === undefined ? headers : { ...headers, 'x-request-id': requestId }).end(text);
}

/** The same answer for a raw socket that is closed after it (no request or response object exists to write it). */
function closingAnswer(status: number, body: ErrorBody, requestId: string, extraHeaders = ''): string {
  const text = JSON.stringify(body);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${extraHeaders}X-Request-Id: ${requestId}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${text}`;
}

/**
 * What Node's HTTP parser refuses before a request exists (no route, no hooks): headers beyond the size limit, a
 * request that is not HTTP, a client too slow to send its headers. Fastify's own answer is `{error, message,
 * statusCode}`; this one has the service's shape, so that every client mistake reads alike.
 */
export function clientErrorAnswer(error: Error & { code?: string }): { status: number; label: string; body: ErrorBody } {
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    const message = `the request line and headers exceed ${maxHeaderSize} bytes, the most this server reads (a case id is at most ${MAX_CASE_ID_LENGTH} characters)`;
    return { status: 431, label: 'headers_too_large', body: { error: 'headers_too_large', message, details: [{ path: 'headers', message }] } };
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const message = 'the request was not received in time';
    return { status: 408, label: 'request_timeout', body: { error: 'request_timeout', message, details: [] } };
  }
  if (error.code === 'HPE_INVALID_TRANSFER_ENCODING') {
    // `Transfer-Encoding: gzip` alone: a request's transfer codings must end with chunked (RFC 9112 §6.3).
    const message = 'the Transfer-Encoding is not valid for a request, whose last transfer coding must be chunked; send the body uncompressed, chunked or with a Content-Length';
    return { status: 400, label: 'bad_request', body: { error: 'bad_request', message, details: [{ path: 'headers/transfer-encoding', message: 'only chunked is supported' }] } };
  }
  const message = `the request is not valid HTTP/1.1${error.code === undefined ? '' : ` (${error.code})`}`;
  return { status: 400, label: 'bad_request', body: { error: 'bad_request', message, details: [{ path: 'request', message }] } };
}

const NO_HEADERS = { headers: {} };

/** Fastify's `clientErrorHandler`: writes the answer on the raw socket (there is no reply) and closes it. */
export function clientErrorHandler(requestIds: RequestIds, onAnswered: OnRefused): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    // A reset connection has nobody to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    // Nor has one its client ended half-way through a request: a client that gave up (a request whose head had arrived
    // ends with the connection, counted as abandoned by request tracking), or a flood of half-sent requests, whose lines
    // and 400s would be the flood's own.
    if (error.code === 'HPE_INVALID_EOF_STATE') {
      socket.destroy();
      return;
    }
    const { status, label, body } = clientErrorAnswer(error);
    // The request's headers were not parsed: there is no id of the client's to echo.
    const requestId = requestIds(NO_HEADERS);
    onAnswered(label, status, requestId);
    if (socket.writable) socket.write(closingAnswer(status, body, requestId));
    socket.destroy(error);
  };
}

/**
 * The server's `checkExpectation` listener: an `Expect` other than 100-continue, which Node answered with a bare 417
 * and no body. Node emits it only for such a request (instead of `request`), so ordinary requests pay nothing.
 */
export function refuseExpectation(requestIds: RequestIds, onAnswered: OnRefused): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const message = `Expect ${quoteValue(request.headers.expect ?? '')} cannot be met: this server meets only 100-continue (or no Expect header)`;
    const requestId = requestIds(request);
    onAnswered('expectation_failed', 417, requestId);
    // The client may be holding its body back until it hears that its expectation is met: what it sends next on this
    // connection could be that body or a new request, so the connection is not reused.
    answerAndClose(response, 417, { error: 'expectation_failed', message, details: [{ path: 'headers/expect', message: 'only 100-continue is supported' }] }, requestId);
  };
}

/**
 * The server's `connect` listener: a CONNECT (a proxy tunnel), which Node, without a listener, answers by closing the
 * connection without a word. Node has handed the socket over, its parser detached: the answer is written raw.
 */
export function refuseConnect(requestIds: RequestIds, onAnswered: OnRefused): (request: IncomingMessage, socket: Duplex) => void {
  return (request, socket) => {
    // Node no longer listens for the socket's errors: a reset while writing would otherwise be uncaught.
    socket.on('error', () => undefined);
    const message = `CONNECT is not supported: this server is not a proxy and opens no tunnel (to ${quoteValue(request.url ?? '')})`;
    const requestId = requestIds(request);
    onAnswered('method_not_allowed', 405, requestId);
    // The target is an authority (host:port), not a resource of this server: no method is allowed on it, which an empty
    // Allow says (RFC 9110 §10.2.1).
    if (socket.writable) socket.write(closingAnswer(405, { error: 'method_not_allowed', message, details: [{ path: 'method', message: 'CONNECT is not supported' }] }, requestId, 'Allow: \r\n'));
    socket.destroy();
  };
}

/**
 * A request whose body has not progressed for --request-idle-timeout, or is still arriving at --request-body-timeout
 * (the open responses' sweep finds it): answered 408 through its own response, with its request id, so that it is timed
 * and counted as any answer (and not as a client that went away), and the connection closed after it. One whose answer
 * had begun has its connection closed.
 */
export function refuseStalledUpload(
  onAnswered: (label: string, status: number, response: ServerResponse, requestId: string, cut: UploadCut) => void,
): (response: ServerResponse, requestId: string, cut: UploadCut) => void {
  return (response, requestId, cut) => {
    if (response.headersSent || response.writableEnded) {
      response.req.socket.destroy();
      return;
    }
    const message =
      cut === 'stalled'
        ? 'the request body stopped arriving for longer than the server waits (--request-idle-timeout)'
        : 'the request body was still arriving when the time the server gives a whole body ran out (--request-body-timeout)';
    answerAndClose(response, 408, { error: 'request_timeout', message, details: [{ path: 'body', message }] }, requestId);
    onAnswered('request_timeout', 408, response, requestId, cut);
  };
}
