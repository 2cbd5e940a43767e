import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { describeError } from '../http/describe-error.js';
import type { ErrorBody } from '../schemas/common.js';

function send(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
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

/** Uniform JSON errors: validation, body limits, domain errors, 404 for unknown routes and 405 for wrong methods. */
export const errorsPlugin = fp<{ bodyLimit: number }>(
  async (app: FastifyInstance, options) => {
    const routes: { pattern: RegExp; methods: Set<string> }[] = [];
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const existing = routes.find((r) => r.pattern.source === patternOf(route.url).source);
      if (existing) methods.forEach((m) => existing.methods.add(m));
      else routes.push({ pattern: patternOf(route.url), methods: new Set(methods) });
    });

    app.setErrorHandler((error, request, reply) => {
      const { status, body } = describeError(error, options.bodyLimit);
      if (status >= 500) request.log.error({ err: error }, 'request failed');
      else request.log.debug({ error: body.error, message: body.message }, 'client error');
      return send(reply, status, body);
    });

    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0] ?? request.url;
      const allowed = new Set<string>();
      for (const route of routes) if (route.pattern.test(path)) route.methods.forEach((m) => allowed.add(m));
      if (allowed.size > 0) {
        const allow = [...allowed].sort().join(', ');
        reply.header('allow', allow);
        return send(reply, 405, { error: 'method_not_allowed', message: `${request.method} is not allowed on ${path}; allowed: ${allow}`, details: [] });
      }
      return send(reply, 404, { error: 'not_found', message: `no route ${request.method} ${path}; see /docs for the API`, details: [] });
    });
  },
  { name: 'errors' },
);
