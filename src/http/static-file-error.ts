import type { FastifyReply, FastifyRequest } from 'fastify';
import { quoteValue } from '../scoring/quote-value.js';

/**
 * A file of the dashboard or of Swagger UI that @fastify/static refused (its errors carry only a status and its
 * reason phrase): the status, said in words, and the header or URL that caused it.
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
 * What @fastify/static or @fastify/send refused, said in words: their errors (http-errors, or @fastify/static's
 * FST_STATIC_FORBIDDEN_PATH) carry only a status and its reason phrase ("Bad Request", "Forbidden"). `files` names
 * whose files are served ("the dashboard"). Undefined for any other error, which the service's error handler
 * describes as usual.
 */
export function fileError(error: Error & { status?: unknown; code?: unknown }, request: FastifyRequest, files: string): StaticFileError | undefined {
  // Described already, by the same handler one context down (Swagger UI nests its file server in a plugin of its own,
  // and each inherits the handler): passed on as it is.
  if (error instanceof StaticFileError) return undefined;
  const path = request.url.split('?')[0] ?? request.url;
  const url = quoteValue(path);
  // @fastify/static 10 (Swagger UI's) refuses a path itself, before `send`, with an error of its own.
  const status = error.code === 'FST_STATIC_FORBIDDEN_PATH' ? 403 : error.status;
  // A NUL byte: `send` refuses it with a 400, @fastify/static 10 with its forbidden path (a 403).
  if ((status === 400 || status === 403) && decoded(path).includes('\0')) {
    return new StaticFileError(400, 'bad_url', `the file path ${url} holds a NUL byte (%00), which no file name has`, 'url', 'holds a NUL byte');
  }
  switch (status) {
    case 400:
      // Percent-encoding that does not decode is refused before routing, as bad_url too.
      return new StaticFileError(400, 'bad_url', `the file path ${url} is not valid percent-encoding`, 'url', 'not valid percent-encoding');
    case 403:
      if (UP_PATH.test(decoded(path))) return new StaticFileError(403, 'forbidden', `the file path ${url} leads outside ${files}'s files (a ".." segment)`, 'url', `leads outside ${files}`);
      return error.code !== 'FST_STATIC_FORBIDDEN_PATH'
        ? new StaticFileError(403, 'forbidden', `${url} is a directory; only ${files}'s files are served`, 'url', 'is a directory')
        : new StaticFileError(403, 'forbidden', `the file path ${url} is not a plain path to one of ${files}'s files (a "." or empty segment, a backslash, or another spelling of a file name)`, 'url', 'not a plain file path');
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

/**
 * An error handler for a context that serves `files` through @fastify/static: what it refused, said in words (thrown
 * on to the service's error handler, which answers, counts and logs it as any other); any other error as it is.
 */
export function fileErrorHandler(files: string) {
  return (error: Error & { status?: unknown; code?: unknown; headers?: unknown }, request: FastifyRequest, reply: FastifyReply): never => {
    const described = fileError(error, request, files);
    if (described === undefined) throw error;
    // A 416 says how long the file is (`bytes */<size>`), as send's own answer did.
    const range = (error.headers as Record<string, unknown> | undefined)?.['Content-Range'];
    if (described.status === 416 && typeof range === 'string') reply.header('content-range', range);
    throw described;
  };
}
