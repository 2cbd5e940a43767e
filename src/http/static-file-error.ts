import type { FastifyRequest } from 'fastify';
import { quoteValue } from '../scoring/quote-value.js';

/**
 * A dashboard file that @fastify/static's `send` refused (its errors carry only a status and its reason phrase):
 * the status, said in words, and the header or URL that caused it.
 */
export class StaticFileError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly path: string,
    readonly detail: string,
  ) {
    super(message);
    this.name = 'StaticFileError';
  }
}

/** A path segment that climbs out of the directory, as @fastify/send tests for it (after decoding). */
const UP_PATH = /(?:^|[\\/])\.\.(?:[\\/]|$)/;

function decoded(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * What @fastify/send refused, said in words: its errors (http-errors) carry only a status and its reason phrase
 * ("Bad Request", "Forbidden"). Undefined for any other error, which the service's error handler describes as usual.
 */
export function fileError(error: Error & { status?: unknown }, request: FastifyRequest): StaticFileError | undefined {
  const path = request.url.split('?')[0] ?? request.url;
  const url = quoteValue(path);
  switch (error.status) {
    case 400:
      // A NUL byte (percent-encoding that does not decode is refused before routing, as bad_url too).
      return decoded(path).includes('\0')
        ? new StaticFileError(400, 'bad_url', `the file path ${url} holds a NUL byte (%00), which no file name has`, 'url', 'holds a NUL byte')
        : new StaticFileError(400, 'bad_url', `the file path ${url} is not valid percent-encoding`, 'url', 'not valid percent-encoding');
    case 403:
      return UP_PATH.test(decoded(path))
        ? new StaticFileError(403, 'forbidden', `the file path ${url} leads outside the dashboard's files (a ".." segment)`, 'url', 'leads outside the dashboard')
        : new StaticFileError(403, 'forbidden', `${url} is a directory; only the dashboard's files are served`, 'url', 'is a directory');
    case 412: {
      const header = request.headers['if-match'] !== undefined ? 'if-match' : 'if-unmodified-since';
      const name = header === 'if-match' ? 'If-Match (its ETag differs)' : 'If-Unmodified-Since (it was modified since)';
      return new StaticFileError(412, 'precondition_failed', `the file ${url} does not meet the request's ${name}`, `headers/${header}`, 'not met');
    }
    case 416:
      return new StaticFileError(416, 'range_not_satisfiable', `Range ${quoteValue(request.headers.range ?? '')} lies beyond the end of the file ${url}`, 'headers/range', 'beyond the end of the file');
    default:
      return undefined;
  }
}
