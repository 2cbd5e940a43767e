import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { fileErrorHandler } from '../src/http/static-file-error.js';
import { errorResponse } from '../src/schemas/common.js';

/** public/dashboard/, found from this module (routes/ under vitest, dist/routes/ when built); undefined when not installed. */
function dashboardRoot(): string | undefined {
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

const dashboard: FastifyPluginAsyncTypebox = async (app) => {
  const root = dashboardRoot();
  const index = root === undefined ? undefined : readFileSync(join(root, 'index.html'), 'utf8');
  if (root === undefined) {
    // The API still works; only the page is missing (e.g. an install that left out public/).
    app.log.warn('public/dashboard/ not found: GET /dashboard answers 503');
  } else {
    // The page's scripts and styles. The page itself is answered by the documented route below, but the file server
    // serves it by name too (/dashboard/index.html): every file carries the page's policy, or that URL could be framed.
    await app.register(fastifyStatic, {
      root,
      prefix: '/dashboard/',
      index: false,
      decorateReply: false,
      cacheControl: true,
      maxAge: 60_000,
      setHeaders: (res) => {
        res.setHeader('x-content-type-options', 'nosniff');
        res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
      },
    });
    // For this plugin's routes only. A thrown error goes on to the service's error handler (Fastify passes it to the
    // parent's), which answers, counts and logs it as any other.
    app.setErrorHandler(fileErrorHandler('the dashboard'));
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
          503: errorResponse('the dashboard files (public/dashboard/) are not installed'),
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
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'no-cache')
        .send(index);
    },
  );
};

export default dashboard;
