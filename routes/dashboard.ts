import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StaticFileError } from '../src/http/describe-error.js';
import { quoteValue } from '../src/scoring/quote-value.js';
import type { ErrorBody } from '../src/schemas/common.js';

/** public/dashboard/, found from this module (routes/ under vitest, dist/routes/ when built); undefined when not installed. */
export function dashboardRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++) {
    const candidate = join(dir, 'public', 'dashboard');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

/** Same-origin only; the page loads nothing from elsewhere. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; base-uri 'none'; frame-ancestors 'none'";

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
function fileError(error: Error & { status?: unknown }, request: FastifyRequest): StaticFileError | undefined {
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

const dashboard: FastifyPluginAsyncTypebox = async (app) => {
  const root = dashboardRoot();
  const index = root === undefined ? undefined : readFileSync(join(root, 'index.html'), 'utf8');
  if (root === undefined) {
    // The API still works; only the page is missing (e.g. an install that left out public/).
    app.log.warn('public/dashboard/ not found: GET /dashboard answers 503');
  } else {
    // The page's scripts and styles; index.html itself is answered by the documented route below.
    await app.register(fastifyStatic, {
      root,
      prefix: '/dashboard/',
      index: false,
      decorateReply: false,
      cacheControl: true,
      maxAge: 60_000,
      setHeaders: (res) => res.setHeader('x-content-type-options', 'nosniff'),
    });
    // For this plugin's routes only. A thrown error goes on to the service's error handler (Fastify passes it to the
    // parent's), which answers, counts and logs it as any other.
    app.setErrorHandler((error: Error & { status?: unknown; headers?: unknown }, request: FastifyRequest, reply: FastifyReply) => {
      const described = fileError(error, request);
      if (described === undefined) throw error;
      // A 416 says how long the file is (`bytes */<size>`), as send's own answer did.
      const range = (error.headers as Record<string, unknown> | undefined)?.['Content-Range'];
      if (described.status === 416 && typeof range === 'string') reply.header('content-range', range);
      throw described;
    });
  }

  app.get(
    '/dashboard',
    {
      schema: {
        tags: ['live'],
        operationId: 'getDashboard',
        summary: 'Live dashboard (HTML): swim lanes of open cases, the latest alert explained, stats',
        description: 'A static page that follows GET /live; it survives reloads (the snapshot) and reconnects (Last-Event-ID). No external resources.',
        response: {
          200: { description: 'the page', content: { 'text/html': { schema: Type.String() } } },
          // No body (type null: @fastify/swagger declares no content); a response header is declared as its schema.
          302: Type.Null({
            description: '/dashboard redirects to /dashboard/, so that the page can use relative URLs',
            headers: { location: { type: 'string', description: 'dashboard/ (relative), with the query string kept' } },
          }),
          503: Type.Unsafe<ErrorBody>(Type.Ref('ErrorBody', { description: 'the dashboard files (public/dashboard/) are not installed' })),
        },
      },
    },
    async (request, reply) => {
      // The page uses relative URLs (dashboard.js, ../live) so that it works behind a path prefix; they need the slash.
      const [path = '', query] = request.url.split('?', 2);
      if (!path.endsWith('/')) return reply.redirect(`dashboard/${query === undefined ? '' : `?${query}`}`, 302);
      if (index === undefined) {
        return reply.code(503).send({ error: 'dashboard_unavailable', message: 'the dashboard files (public/dashboard/) are not installed with this server', details: [] });
      }
      return reply.type('text/html; charset=utf-8').header('content-security-policy', CONTENT_SECURITY_POLICY).header('cache-control', 'no-cache').send(index);
    },
  );
};

export default dashboard;
