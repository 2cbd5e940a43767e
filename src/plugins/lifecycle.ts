import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export type ServiceState = 'starting' | 'ready' | 'draining';

declare module 'fastify' {
  interface FastifyInstance {
    serviceState: () => ServiceState;
    /** Resolves once no request is being handled; plugins await it on close before freeing what handlers use. */
    whenIdle: () => Promise<void>;
  }
  interface FastifyRequest {
    /** Counted in the in-flight total and not yet uncounted. */
    countedInFlight: boolean;
  }
}

/**
 * Readiness (ready once every plugin, bundle load and warm-up included, is up; draining from the moment close starts)
 * and the count of requests in flight, so resources outlive the requests that use them.
 */
export const lifecyclePlugin = fp(
  async (app) => {
    let state: ServiceState = 'starting';
    let inFlight = 0;
    let waiters: (() => void)[] = [];
    const settle = () => {
      if (inFlight > 0) return;
      const ready = waiters;
      waiters = [];
      ready.forEach((resolve) => resolve());
    };
    app.decorate('serviceState', () => state);
    app.decorate('whenIdle', () => new Promise<void>((resolve) => {
      waiters.push(resolve);
      settle();
    }));
    // Hooks in callback style: an async hook costs a promise and a microtask per request.
    app.decorateRequest('countedInFlight', false);
    app.addHook('onRequest', (request, _reply, next) => {
      request.countedInFlight = true;
      inFlight++;
      next();
    });
    // onResponse covers every request that got an answer, onRequestAbort those whose client went away first; a
    // request can see both, and counts once.
    const done = (request: FastifyRequest) => {
      if (!request.countedInFlight) return;
      request.countedInFlight = false;
      inFlight--;
      settle();
    };
    app.addHook('onResponse', (request, _reply, next) => {
      done(request);
      next();
    });
    app.addHook('onRequestAbort', (request, next) => {
      done(request);
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
