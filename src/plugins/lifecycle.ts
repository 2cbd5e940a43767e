import fp from 'fastify-plugin';
import { OpenResponses, type StallWatch } from '../http/open-responses.js';

/** `failed`: a fault the process cannot recover from (the inference worker stopped); it stays so until the process ends. */
export type ServiceState = 'starting' | 'ready' | 'draining' | 'failed';

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
    /**
     * The service can no longer do its job (the inference worker stopped): liveness and readiness answer 503 from now
     * on, and the failure listeners run (`petrascore serve` shuts down and exits 1). Only the first failure counts.
     */
    markFailed: (error: Error) => void;
    /** The error the service failed with, once it has. */
    failure: () => Error | undefined;
    /** Calls `listener` when the service fails, or at once if it already has. */
    onFailure: (listener: (error: Error) => void) => void;
    /**
     * When the caller of close() gives up waiting (epoch milliseconds; `petrascore serve`'s --shutdown-timeout), so
     * that what may wait at close (alert webhooks) ends within it; undefined: no limit.
     */
    closeDeadline: number | undefined;
  }
}

/**
 * Readiness (ready once every plugin, bundle load and warm-up included, is up; draining from the moment close starts;
 * failed for good after a fatal fault) and the requests in flight, so resources outlive the requests that use them.
 */
export const lifecyclePlugin = fp(
  async (app, options: { stalledUploadMs?: number; slowUploadMs?: number; onStalledUpload?: StallWatch['onStalled'] }) => {
    let state: ServiceState = 'starting';
    let failure: Error | undefined;
    const failureListeners: ((error: Error) => void)[] = [];
    // A failed service stays failed: neither the end of startup nor a drain makes it look healthy again.
    const moveTo = (next: ServiceState) => {
      if (state !== 'failed') state = next;
    };
    const { stalledUploadMs = 0, slowUploadMs = 0, onStalledUpload } = options;
    const watched = (stalledUploadMs > 0 || slowUploadMs > 0) && onStalledUpload !== undefined;
    const open = new OpenResponses(watched ? { afterMs: stalledUploadMs, totalMs: slowUploadMs, onStalled: onStalledUpload } : undefined);
    app.decorate('serviceState', () => state);
    app.decorate('beginDraining', () => moveTo('draining'));
    app.decorate('markFailed', (error: Error) => {
      if (failure !== undefined) return;
      failure = error;
      state = 'failed';
      for (const listener of failureListeners) listener(error);
    });
    app.decorate('failure', () => failure);
    app.decorate('onFailure', (listener: (error: Error) => void) => {
      if (failure !== undefined) listener(failure);
      else failureListeners.push(listener);
    });
    app.decorate('openResponses', open);
    app.decorate('whenIdle', () => open.whenEmpty());
    app.addHook('onReady', async () => moveTo('ready'));
    app.decorate('closing', false);
    app.decorate('closeDeadline', undefined);
    app.addHook('preClose', async () => {
      moveTo('draining');
      app.closing = true;
    });
    app.addHook('onClose', async () => open.stop());
  },
  { name: 'lifecycle' },
);
