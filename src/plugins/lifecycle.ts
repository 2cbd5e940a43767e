import type { ServerResponse } from 'node:http';
import fp from 'fastify-plugin';
import { OpenResponses } from '../http/open-responses.js';

export type ServiceState = 'starting' | 'ready' | 'draining';

declare module 'fastify' {
  interface FastifyInstance {
    serviceState: () => ServiceState;
    /** Resolves once no request is being handled; plugins await it on close before freeing what handlers use. */
    whenIdle: () => Promise<void>;
    /** The responses of the requests being handled (a graceful shutdown tells them to close their connection). */
    openResponses: Iterable<ServerResponse>;
  }
}

/**
 * Readiness (ready once every plugin, bundle load and warm-up included, is up; draining from the moment close starts)
 * and the count of requests in flight, so resources outlive the requests that use them.
 */
export const lifecyclePlugin = fp(
  async (app) => {
    let state: ServiceState = 'starting';
    const open = new OpenResponses();
    let waiters: (() => void)[] = [];
    const settle = () => {
      if (open.size > 0) return;
      const ready = waiters;
      waiters = [];
      ready.forEach((resolve) => resolve());
    };
    app.decorate('serviceState', () => state);
    app.decorate('openResponses', open);
    app.decorate('whenIdle', () => new Promise<void>((resolve) => {
      waiters.push(resolve);
      settle();
    }));
    // A request is done when its response closes: that event comes for every response, answered or abandoned by its
    // client at any stage, where Fastify's onResponse and onRequestAbort hooks missed requests whose client went away
    // at the end of a load test (the session close then waited for them forever).
    app.addHook('onRequest', (_request, reply, next) => {
      const response = reply.raw;
      const slot = open.add(response);
      response.on('close', () => {
        open.release(slot, response);
        settle();
      });
      next();
    });
    app.addHook('onReady', async () => {
      state = 'ready';
    });
    app.addHook('preClose', async () => {
      state = 'draining';
    });
  },
  { name: 'lifecycle' },
);
