import fp from 'fastify-plugin';

export type ServiceState = 'starting' | 'ready' | 'draining';

declare module 'fastify' {
  interface FastifyInstance {
    serviceState: () => ServiceState;
  }
}

/** Readiness: ready once every plugin (bundle load and warm-up included) is up, draining from the moment close starts. */
export const lifecyclePlugin = fp(
  async (app) => {
    let state: ServiceState = 'starting';
    app.decorate('serviceState', () => state);
    app.addHook('onReady', async () => {
      state = 'ready';
    });
    app.addHook('preClose', async () => {
      state = 'draining';
    });
  },
  { name: 'lifecycle' },
);
