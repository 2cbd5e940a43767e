import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ServeConfig } from './config/options.js';
import { adminListenerPlugin } from './plugins/admin-listener.js';
import { casesPlugin } from './plugins/cases.js';
import { connectionsPlugin } from './plugins/connections.js';
import { docsPlugin } from './plugins/docs.js';
import { clientErrorHandler, refuseConnect, refuseExpectation, refuseStalledUpload, type OnRefused } from './http/client-error.js';
import { requestIdGenerator } from './http/request-id.js';
import { errorsPlugin, frameworkErrorHandler } from './plugins/errors.js';
import { lifecyclePlugin } from './plugins/lifecycle.js';
import { livePlugin } from './plugins/live.js';
import { metricsPlugin } from './plugins/metrics.js';
import { petraPlugin } from './plugins/petra.js';
import { requestLogPlugin } from './plugins/request-log.js';
import { requestTrackingPlugin } from './plugins/request-tracking.js';
import { validatorCompiler } from './http/validator-compiler.js';
import { MAX_PARAM_URL_LENGTH } from './schemas/cases.js';
import anomalyRoutes from '../routes/anomaly.js';
import casesRoutes from '../routes/cases.js';
import dashboardRoutes from '../routes/dashboard.js';
import counterfactualRoutes from '../routes/counterfactual.js';
import eventsRoutes from '../routes/events.js';
import forwardRoutes from '../routes/forward.js';
import healthRoutes from '../routes/health.js';
import liveRoutes from '../routes/live.js';
import metricsRoutes from '../routes/metrics.js';
import schemaRoutes from '../routes/schema.js';
import sensitivityRoutes from '../routes/sensitivity.js';

// adminPort stays: whether an admin listener will hold connections too (the open-file warning counts them).
export type AppConfig = Omit<ServeConfig, 'host' | 'port' | 'adminHost' | 'logLevel' | 'shutdownTimeoutMs' | 'drainDelayMs'>;

export type App = FastifyInstance;

/**
 * Assembles the service: plugins own the lifecycle (the bundle loads during `ready()`, the session closes with the
 * app), routes stay thin. A bad bundle makes `ready()` reject with a BundleError.
 */
export async function buildApp(config: AppConfig, logger: FastifyServerOptions['logger'] = false): Promise<App> {
  // What Node refuses before a request exists (no route, no hooks) is counted and logged here. Called only once the
  // server listens, when the metrics exist.
  const refusedBy = (what: string): OnRefused => (label, status, requestId) => {
    app.metrics.clientErrors.inc({ error: label });
    app.log.info({ reqId: requestId, status, error: label }, what);
  };
  const requestIds = requestIdGenerator();
  const app = Fastify({
    logger,
    bodyLimit: config.bodyLimit,
    // The request-log plugin writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // The id comes from genReqId, which checks the caller's x-request-id before taking it.
    requestIdHeader: false,
    genReqId: requestIds,
    // A case id may be 512 characters, 6144 when fully percent-encoded; the router's default cap is 100.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_URL_LENGTH },
    frameworkErrors: frameworkErrorHandler(config.bodyLimit),
    clientErrorHandler: clientErrorHandler(requestIds, refusedBy('refused by the HTTP parser')),
    // Large nets take seconds to optimise and load (scale_2000: ~6 s on 2 cores).
    pluginTimeout: 120_000,
    // Requests that arrive while the server closes get our JSON 503 (request-tracking), not Fastify's.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  // Requests Node answers itself, without a body, unless the server listens for them; neither is an ordinary request.
  app.server.on('checkExpectation', refuseExpectation(requestIds, refusedBy('refused by the HTTP server')));
  app.server.on('connect', refuseConnect(requestIds, refusedBy('refused by the HTTP server')));

  await app.register(lifecyclePlugin, {
    // Node's requestTimeout does not cover a body that stalls after its headers: it would hold its connection, and
    // the drain, forever. Fastify's connectionTimeout would, but costs two timers per request on every connection.
    stalledUploadMs: config.requestIdleTimeoutMs,
    slowUploadMs: config.requestBodyTimeoutMs,
    onStalledUpload: refuseStalledUpload((label, status, response, reqId, cut) => {
      app.metrics.clientErrors.inc({ error: label });
      const what = cut === 'stalled' ? 'request body stalled' : 'request body too slow';
      app.log.info({ reqId, status, error: label, method: response.req.method, url: response.req.url }, `${what}: answered 408, connection closed`);
    }),
  });
  await app.register(metricsPlugin);
  await app.register(connectionsPlugin, { maxConnections: config.maxConnections, adminMaxConnections: config.adminPort === 0 ? 0 : config.adminMaxConnections });
  // Before any route: it binds its hook to each route as the route is declared.
  await app.register(requestTrackingPlugin, { requestLog: config.requestLog });
  await app.register(errorsPlugin, { bodyLimit: config.bodyLimit });
  await app.register(requestLogPlugin, { requestLog: config.requestLog });
  await app.register(adminListenerPlugin, { maxConnections: config.adminMaxConnections, requestIds });
  await app.register(docsPlugin);
  await app.register(petraPlugin, {
    modelPath: config.bundle,
    maxBatchRows: config.maxBatchRows,
    maxBatchWaitMs: config.maxBatchWaitMs,
    batchHoldFrom: config.batchHoldFrom,
    inferenceThread: config.inferenceThread,
    inferenceTimeoutMs: config.inferenceTimeoutMs,
  });
  // Before the cases: the evaluator reports events, evaluations and evictions to the live view.
  await app.register(livePlugin, config);
  await app.register(casesPlugin, {
    observer: app.live.caseObserver,
    maxOpenCases: config.maxOpenCases,
    idleTimeoutMs: config.caseIdleTimeoutSeconds * 1000,
    maxEventsPerCase: config.maxEventsPerCase,
    maxAttributesPerCase: config.maxAttributesPerCase,
    maxAttributeCharsPerCase: config.maxAttributeCharsPerCase,
    maxAttributeChars: config.maxAttributeChars,
    laneAttribute: config.laneAttribute,
    scoreEveryEvent: config.scoreEveryEvent,
    endedCaseMemory: config.endedCaseMemory,
    repeatClose: config.repeatClose,
    stateFile: config.caseStateFile,
    checkpointIntervalMs: config.caseStateCheckpointSeconds * 1000,
    startsWithAdminListener: config.adminPort !== 0,
  });
  app.live.state.followCases(app.cases);
  const limits = { maxEventsPerRequest: config.maxEventsPerRequest, maxResidualsPerRequest: config.maxResidualsPerRequest };
  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  await app.register(schemaRoutes);
  await app.register(forwardRoutes, limits);
  await app.register(anomalyRoutes, limits);
  // POST /events first in the document: its example opens the cases (C1, C2) the per-case examples below it use.
  await app.register(eventsRoutes, limits);
  await app.register(casesRoutes);
  await app.register(liveRoutes);
  await app.register(dashboardRoutes);
  await app.register(counterfactualRoutes, { maxBatchRows: config.maxBatchRows, ...limits });
  await app.register(sensitivityRoutes, { maxBatchRows: config.maxBatchRows, ...limits });
  return app;
}
