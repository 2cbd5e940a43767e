import { maxHeaderSize, STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorBody } from '../schemas/common.js';

/**
 * What Node's HTTP parser refuses before a request exists (no route, no hooks): headers beyond the size limit, a
 * request that is not HTTP, a client too slow to send its headers. Fastify's own answer is `{error, message,
 * statusCode}`; this one has the service's shape, so that every client mistake reads alike.
 */
export function clientErrorAnswer(error: Error & { code?: string }): { status: number; label: string; body: ErrorBody } {
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    const message = `the request line and headers exceed ${maxHeaderSize} bytes, the most this server reads (a case id is at most 512 characters)`;
    return { status: 431, label: 'headers_too_large', body: { error: 'headers_too_large', message, details: [{ path: 'headers', message }] } };
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const message = 'the request was not received in time';
    return { status: 408, label: 'request_timeout', body: { error: 'request_timeout', message, details: [] } };
  }
  const message = `the request is not valid HTTP/1.1${error.code === undefined ? '' : ` (${error.code})`}`;
  return { status: 400, label: 'bad_request', body: { error: 'bad_request', message, details: [{ path: 'request', message }] } };
}

/** Fastify's `clientErrorHandler`: writes the answer on the raw socket (there is no reply) and closes it. */
export function clientErrorHandler(onAnswered: (label: string, status: number) => void): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    // A reset connection has nobody to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, label, body } = clientErrorAnswer(error);
    onAnswered(label, status);
    if (socket.writable) {
      const text = JSON.stringify(body);
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${text}`,
      );
    }
    socket.destroy(error);
  };
}

/**
 * A request whose body has not progressed for --request-idle-timeout (the open responses' sweep finds it): the client
 * gets 408 when nothing of its answer was sent yet, and the connection is closed either way.
 */
export function refuseStalledUpload(onAnswered: (label: string, status: number) => void): (response: ServerResponse) => void {
  return (response) => {
    const socket = response.req.socket;
    if (!response.headersSent && socket.writable) {
      const message = 'the request body stopped arriving for longer than the server waits (--request-idle-timeout)';
      const text = JSON.stringify({ error: 'request_timeout', message, details: [] } satisfies ErrorBody);
      socket.write(`HTTP/1.1 408 Request Timeout\r\nContent-Length: ${Buffer.byteLength(text)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${text}`);
      onAnswered('request_timeout', 408);
    }
    socket.destroy();
  };
}
