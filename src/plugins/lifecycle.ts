import fp from 'fastify-plugin';
import { OpenResponses } from '../http/open-responses.js';

export type ServiceState = 'starting' | 'ready' | 'draining';

declare module 'fastify' {
  interface FastifyInstance {
    serviceState: () => ServiceState;
    /** True once close() has begun (after any drain delay): requests still arriving get our 503. */
    closing: boolean;
    /** Readiness turns to draining now, ahead of close (a drain delay): requests are still served as usual. */
    beginDraining: () => void;
    /** Resolves once no request is being handled; plugins await it on close before freeing what handlers use. */
    whenIdle: () => Promise<void>;
    /**
     * The responses of the requests being handled (the request-tracking plugin keeps them; a graceful shutdown tells
     * them to close their connection).
     */
    openResponses: OpenResponses;
  }
}

/**
 * Readiness (ready once every plugin, bundle load and warm-up included, is up; draining from the moment close starts)
 * and the requests in flight, so resources outlive the requests that use them.
 */
export const lifecyclePlugin = fp(
  async (app) => {
    let state: ServiceState = 'starting';
    const open = new OpenResponses();
    app.decorate('serviceState', () => state);
    app.decorate('beginDraining', () => {
      state = 'draining';
    });
    app.decorate('openResponses', open);
    app.decorate('whenIdle', () => open.whenEmpty());
    app.addHook('onReady', async () => {
      state = 'ready';
    });
    app.decorate('closing', false);
    app.addHook('preClose', async () => {
      state = 'draining';
      app.closing = true;
    });
    app.addHook('onClose', async () => open.stop());
  },
  { name: 'lifecycle' },
);
