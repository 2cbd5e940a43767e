import fp from 'fastify-plugin';
import { BUS_EVENT_TYPES, LIVE_EVENT_SCHEMAS } from '../live/events.js';
import { laneThresholds } from '../config/lane-thresholds.js';
import type { ServeConfig } from '../config/options.js';
import { LiveService } from '../live/service.js';
import { AlertWebhooks } from '../live/webhook.js';
import { PETRASCORE_VERSION } from '../version.js';

/** What the rest of a close (the model's session, the server) is left of the shutdown timeout after the webhooks. */
const CLOSE_MARGIN_MS = 200;

declare module 'fastify' {
  interface FastifyInstance {
    live: LiveService;
  }
}

/** The serve settings the live view reads. */
export type LivePluginOptions = Pick<
  ServeConfig,
  | 'laneAttribute'
  | 'alertThreshold'
  | 'alertLaneThresholds'
  | 'alertExplanationFloor'
  | 'alertWebhooks'
  | 'alertWebhookTimeoutMs'
  | 'alertWebhookRetries'
  | 'alertWebhookQueue'
  | 'alertWebhookBackoffMs'
  | 'liveRingSize'
  | 'liveAlertHistory'
  | 'liveMaxSubscribers'
  | 'liveSubscriberBuffer'
  | 'liveSubscriberGraceMs'
  | 'liveHeartbeatMs'
  | 'liveStatsIntervalMs'
>;

/**
 * The live view: the event bus with its ring and subscribers, the stats ticker, the heartbeat, alert webhooks, and
 * the event schemas for the OpenAPI document. Streams end when the server starts closing, so they never hold a drain.
 */
export const livePlugin = fp<LivePluginOptions>(
  async (app, options) => {
    for (const schema of LIVE_EVENT_SCHEMAS) app.addSchema(schema);
    const m = app.metrics;
    // One series per event type, so publishing does not look up a label set every time.
    const publishedByType = new Map(BUS_EVENT_TYPES.map((type) => [type, m.liveEventsPublished.series({ type })]));
    const evaluationsPublished = publishedByType.get('evaluation')!;
    const alertsRaised = m.alertsRaised.series();
    m.liveMaxSubscribers.set(options.liveMaxSubscribers);
    const live = new LiveService({
      net: app.petra.net,
      laneAttribute: options.laneAttribute === '' ? undefined : options.laneAttribute,
      alertThreshold: options.alertThreshold,
      laneThresholds: laneThresholds(options.alertLaneThresholds),
      explanationFloor: options.alertExplanationFloor,
      ringSize: options.liveRingSize,
      alertHistory: options.liveAlertHistory,
      maxSubscribers: options.liveMaxSubscribers,
      subscriberBuffer: options.liveSubscriberBuffer,
      subscriberGraceMs: options.liveSubscriberGraceMs,
      log: app.log,
      metrics: {
        // Evaluations are most of the events: their series without a lookup.
        published: (type) => (type === 'evaluation' ? evaluationsPublished : publishedByType.get(type)!).inc(),
        dropped: (type, count) => m.liveEventsDropped.inc({ type }, count),
        subscribers: (count) => m.liveSubscribers.set(count),
        disconnected: (reason) => m.liveDisconnects.inc({ reason }),
        alertRaised: () => alertsRaised.inc(),
      },
    });
    app.decorate('live', live);

    if (options.alertWebhooks.length > 0) {
      const webhooks = new AlertWebhooks(options.alertWebhooks, {
        timeoutMs: options.alertWebhookTimeoutMs,
        retries: options.alertWebhookRetries,
        queueSize: options.alertWebhookQueue,
        backoffMs: options.alertWebhookBackoffMs,
        userAgent: `petrascore/${PETRASCORE_VERSION}`,
        log: app.log,
        metrics: {
          outcome: (webhook, outcome) => m.alertWebhookDeliveries.inc({ webhook: String(webhook), outcome }),
          retried: (webhook) => m.alertWebhookRetries.inc({ webhook: String(webhook) }),
        },
      });
      m.webhooksConfigured(webhooks.size);
      m.readWebhookQueues(() => webhooks.pendingByWebhook());
      live.webhooks = webhooks;
      live.onAlert((alert) => webhooks.deliver(alert));
      app.addHook('onClose', async () => {
        // The alerts of the last requests get the webhook timeout to go out, but not beyond the shutdown's own limit
        // (less a moment for the rest of the close): past it the process would exit 1, "timed out", for a webhook.
        const left = app.closeDeadline === undefined ? Number.POSITIVE_INFINITY : app.closeDeadline - Date.now() - CLOSE_MARGIN_MS;
        await webhooks.close(Math.max(0, Math.min(options.alertWebhookTimeoutMs, left)));
      });
      app.log.info({ webhooks: options.alertWebhooks.length }, 'alert webhooks configured');
    }

    const timers: NodeJS.Timeout[] = [];
    app.addHook('onReady', async () => {
      if (options.liveStatsIntervalMs > 0) timers.push(setInterval(() => live.tick(), options.liveStatsIntervalMs));
      timers.push(setInterval(() => live.bus.heartbeat(options.liveHeartbeatMs), Math.max(50, Math.floor(options.liveHeartbeatMs / 2))));
      for (const timer of timers) timer.unref();
    });
    // preClose: before the server stops accepting and waits for connections, which open streams would hold forever.
    app.addHook('preClose', async () => {
      for (const timer of timers) clearInterval(timer);
      live.bus.closeAll();
    });
  },
  { name: 'live', dependencies: ['petra', 'metrics'] },
);
