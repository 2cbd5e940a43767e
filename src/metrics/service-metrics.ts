import { getHeapStatistics } from 'node:v8';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { CHECKPOINT_RESULTS } from '../cases/case-checkpoints.js';
import { DROP_REASONS } from '../cases/case-store.js';
import { BUS_EVENT_TYPES } from '../live/events.js';
import { DISCONNECT_REASONS } from '../live/subscriber.js';
import { WEBHOOK_OUTCOMES } from '../live/webhook.js';
import { ONNXRUNTIME_VERSION, PETRASCORE_VERSION } from '../version.js';
import { DeferredCounter, DeferredHistogram, ScrapedGauge, ScrapedStateGauge } from './deferred-metrics.js';
import { RouteTimings } from './route-timings.js';

/*
 * Histogram edges. Each runs from the fast end of the default model (runs of ~20 µs–1 ms, requests under a
 * millisecond) to a finite top above the worst case of a large bundle (scale_2000: /anomaly/batch requests of many
 * seconds, where a top edge of 2.5 s left 18 of 47 in +Inf), so histogram_quantile() interpolates rather than pinning
 * its p99 to the top edge. Roughly 1-2.5-5 steps per decade: finer buys little, as quantiles interpolate within a
 * bucket anyway. Series cost edges × label sets: the request histogram is the labelled one (method × route × status,
 * some dozens of sets), so it has the fewest edges (16) and the coarsest top (10, 30, 60 s); the inference ones are
 * one label set each and keep their fine steps over their whole range (17 or 18 edges).
 */

/** Requests: 0.5 ms to a minute, about the longest a client or proxy waits for an answer (nginx's default read timeout). */
const REQUEST_SECONDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Rows per run: powers of two up to 65,536, the largest --max-batch-rows allows (no run exceeds it). */
const BATCH_ROWS = Array.from({ length: 17 }, (_, i) => 2 ** i);

/** One run: 50 µs (a small net's single row) to 10 s (a full batch of a large net, or a run behind a blocked loop). */
const RUN_SECONDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Queue wait: 10 µs (a turn of the event loop) to 10 s (behind the longest runs). */
const QUEUE_SECONDS = [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Every Prometheus metric the service exports, on a registry of its own (one per app, so tests and embedded apps do
 * not collide). The README's metrics table describes each one. Metrics touched per request or per event are
 * deferred (src/metrics/deferred-metrics.ts): summed in plain numbers and handed to prom-client at scrape time.
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  readonly buildInfo = new Gauge({
    name: 'petrascore_build_info',
    help: 'Always 1; the versions running: petrascore (version), Node.js (node_version, as process.version gives it), onnxruntime-node (onnxruntime_version)',
    labelNames: ['version', 'node_version', 'onnxruntime_version'] as const,
    registers: [this.registry],
  });

  /** Set by the petra plugin once the bundle is loaded and the inference thread chosen. */
  readonly modelInfo = new Gauge({
    name: 'petrascore_model_info',
    help: 'Always 1; the bundle served: scenario name, ONNX opset and PETRA version from the sidecar (empty when it has none), the first 12 hex digits of the sha256 of model.onnx, and the inference thread chosen (main, worker)',
    labelNames: ['scenario', 'opset', 'petra_version', 'model_sha256', 'inference_thread'] as const,
    registers: [this.registry],
  });

  readonly scoredTransitions = new Gauge({ name: 'petrascore_model_scored_transitions', help: 'Transitions the model scores (its ONNX output columns)', registers: [this.registry] });

  /** petrascore_http_requests_total and petrascore_http_request_duration_seconds. */
  readonly http = new RouteTimings(this.registry, REQUEST_SECONDS);

  /** The lifecycle plugin's state (the metrics plugin names the source). */
  readonly serviceState = new ScrapedStateGauge({
    name: 'petrascore_service_state',
    help: '1 for the state the service is in, 0 for the others: starting, ready, draining (shutting down), failed (the inference worker stopped; the process exits)',
    states: ['starting', 'ready', 'draining', 'failed'] as const,
    registry: this.registry,
  });

  /** Read from the responses the lifecycle plugin keeps (the metrics plugin names the source). */
  readonly requestsInFlight = new ScrapedGauge({
    name: 'petrascore_http_requests_in_flight',
    help: 'HTTP requests being handled, open /live streams and the scrape that reads this included',
    registry: this.registry,
  });

  /**
   * Asked of the server at each scrape (the connections plugin names the source): a count kept from each socket's close
   * event cost /anomaly a fifth of its throughput at 128 connections on Node 24, as a second close listener on every
   * socket slows the one Node adds and removes per response.
   */
  readonly openConnections = new ScrapedGauge({
    name: 'petrascore_open_connections',
    help: 'TCP connections open on the API port (--port; not the admin listener\'s): requests being handled, idle keep-alive connections, /live streams and half-sent requests alike, the scrape that reads this included when it came in there',
    registry: this.registry,
  });

  readonly maxConnections = new Gauge({
    name: 'petrascore_max_connections',
    help: 'Most TCP connections open at once; one more is closed as it is accepted (--max-connections; 0: no cap)',
    registers: [this.registry],
  });

  readonly connectionsDropped = new DeferredCounter({
    name: 'petrascore_connections_dropped_total',
    help: 'Connections closed as they were accepted, --max-connections being open already; while the cap holds scrapes are dropped too, so the count shows at the first scrape that gets in',
    registry: this.registry,
  });

  readonly inferenceRuns = new DeferredCounter({ name: 'petrascore_inference_runs_total', help: 'ONNX Runtime session runs', registry: this.registry });

  readonly inferenceRows = new DeferredHistogram({
    name: 'petrascore_inference_batch_rows',
    help: 'Rows (traces) per ONNX run: how well concurrent requests share runs',
    buckets: BATCH_ROWS,
    registry: this.registry,
  });

  readonly maxBatchRows = new Gauge({ name: 'petrascore_inference_max_batch_rows', help: 'Most rows in one ONNX run (--max-batch-rows)', registers: [this.registry] });

  readonly inferenceSeconds = new DeferredHistogram({
    name: 'petrascore_inference_duration_seconds',
    help: 'Wall time of one ONNX run, from hand-over to result: the run itself plus its wait for a turn of the event loop (or the worker)',
    buckets: RUN_SECONDS,
    registry: this.registry,
  });

  readonly inferenceQueueWait = new DeferredHistogram({
    name: 'petrascore_inference_queue_wait_seconds',
    help: 'Time a request\'s rows waited for the ONNX run they share (0 when the model was idle)',
    buckets: QUEUE_SECONDS,
    registry: this.registry,
  });

  /** Read from the case store (the cases plugin names the source). */
  readonly openCases = new ScrapedGauge({ name: 'petrascore_open_cases', help: 'Streaming cases currently open', registry: this.registry });

  /**
   * The heap V8 may grow to: --max-old-space-size, or what Node derived from the container's memory limit. Beside
   * petrascore_nodejs_heap_size_used_bytes it makes a saturation alert writable; past it the process aborts.
   */
  readonly heapLimit = new Gauge({
    name: 'petrascore_heap_limit_bytes',
    help: "The most heap V8 may use before the process aborts out of memory (v8's heap_size_limit: --max-old-space-size, or Node's default from the machine's or container's memory)",
    registers: [this.registry],
  });

  readonly maxOpenCases = new Gauge({
    name: 'petrascore_max_open_cases',
    help: 'Most streaming cases open at once; a new one beyond it evicts the least recently touched (--max-open-cases)',
    registers: [this.registry],
  });

  /** Read from the case store (the cases plugin names the source). */
  readonly caseAttributeChars = new ScrapedGauge({
    name: 'petrascore_case_attribute_chars',
    help: "Characters of attribute names and values the open cases hold, as --max-attribute-chars counts them (UTF-16 code units; a one-byte character costs a byte, others two)",
    registry: this.registry,
  });

  readonly maxCaseAttributeChars = new Gauge({
    name: 'petrascore_max_case_attribute_chars',
    help: 'Most characters of attribute names and values the open cases may hold; beyond it the least recently touched are evicted (--max-attribute-chars; 0 no bound)',
    registers: [this.registry],
  });

  readonly caseEvictions = new DeferredCounter({
    name: 'petrascore_case_evictions_total',
    help: 'Open cases dropped without a close, by reason (idle, capacity, attribute_capacity, deleted, close_failed: a close whose model run failed after a POST /events had opened a new case under its id)',
    labelNames: ['reason'] as const,
    registry: this.registry,
    known: DROP_REASONS.map((reason) => ({ reason })),
  });

  /** Written by the case checkpoints (--case-state-checkpoint-interval), a few a minute at most: plain prom-client. */
  readonly caseCheckpoints = new Counter({
    name: 'petrascore_case_checkpoints_total',
    help: 'Checkpoints of the open cases to --case-state-file (--case-state-checkpoint-interval), by result: written, unchanged (nothing to write since the last), failed (logged at warn; the next is tried at the next interval)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly caseCheckpointLastWritten = new Gauge({
    name: 'petrascore_case_checkpoint_last_written_timestamp_seconds',
    help: 'When the last checkpoint of the open cases was written, in seconds since the epoch (0 none yet): alert when it falls behind by several intervals while cases change',
    registers: [this.registry],
  });

  readonly caseCheckpointDuration = new Gauge({
    name: 'petrascore_case_checkpoint_duration_seconds',
    help: 'How long the last written checkpoint of the open cases took, from its start to its rename into place (requests go on meanwhile)',
    registers: [this.registry],
  });

  readonly clientErrors = new DeferredCounter({
    name: 'petrascore_client_errors_total',
    help: 'Requests (and /anomaly/batch items, /events events) refused, by error class (validation_error, missing_attribute, max_events_per_case, headers_too_large, …); a HEAD /cases/{id} 404 is an answer, not counted',
    labelNames: ['error'] as const,
    registry: this.registry,
  });

  readonly liveSubscribers = new Gauge({ name: 'petrascore_live_subscribers', help: 'Connected GET /live streams', registers: [this.registry] });

  readonly liveMaxSubscribers = new Gauge({
    name: 'petrascore_live_max_subscribers',
    help: 'Most connected GET /live streams; more are refused with 503 (--live-max-subscribers)',
    registers: [this.registry],
  });

  readonly liveEventsPublished = new DeferredCounter({
    name: 'petrascore_live_events_published_total',
    help: 'Events published on the live bus, by type (evaluation, alert, case_opened, case_closed, case_evicted, stats)',
    labelNames: ['type'] as const,
    registry: this.registry,
    known: BUS_EVENT_TYPES.map((type) => ({ type })),
  });

  readonly liveEventsDropped = new Counter({
    name: 'petrascore_live_events_dropped_total',
    help: 'Events not yet written to a /live subscriber when it was cut off for falling behind, by type (those written but still unread are lost with the connection too; a resume sends them all again)',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly liveDisconnects = new Counter({
    name: 'petrascore_live_disconnects_total',
    help: 'GET /live streams ended, by reason (client_closed, overflow, shutdown)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly alertsRaised = new DeferredCounter({ name: 'petrascore_alerts_total', help: 'Alerts raised (evaluations that reached the alert threshold with a new explanation)', registry: this.registry });

  readonly alertWebhookDeliveries = new Counter({
    name: 'petrascore_alert_webhook_deliveries_total',
    help: 'Alert webhook deliveries by webhook (its place among the --alert-webhook URLs, 1 for the first, as webhook_index in the log) and outcome: sent, failed (retries exhausted, or what no retry can change: a 3xx, a 4xx other than 408 and 429, a port fetch blocks, an https URL to a receiver of plain HTTP), dropped (queue full, or still undelivered at shutdown); one per alert and URL',
    labelNames: ['webhook', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly alertWebhookRetries = new Counter({
    name: 'petrascore_alert_webhook_retries_total',
    help: 'Alert webhook attempts that failed and were retried, by webhook',
    labelNames: ['webhook'] as const,
    registers: [this.registry],
  });

  private webhookQueues: () => readonly { webhook: number; pending: number }[] = () => [];

  /** Set at each scrape from the webhooks' queues (the live plugin names the source). */
  readonly alertWebhookPending: Gauge<'webhook'> = new Gauge({
    name: 'petrascore_alert_webhook_pending',
    help: 'Alerts waiting or in flight, by webhook; at --alert-webhook-queue the oldest waiting is dropped',
    labelNames: ['webhook'] as const,
    registers: [this.registry],
    collect: () => {
      for (const { webhook, pending } of this.webhookQueues()) this.alertWebhookPending.set({ webhook: String(webhook) }, pending);
    },
  });

  readWebhookQueues(source: () => readonly { webhook: number; pending: number }[]): void {
    this.webhookQueues = source;
  }

  /** Every outcome of every webhook at 0 from the start, so that rate() and absent() work before the first one. */
  webhooksConfigured(count: number): void {
    for (let webhook = 1; webhook <= count; webhook++) {
      const labels = { webhook: String(webhook) };
      for (const outcome of WEBHOOK_OUTCOMES) this.alertWebhookDeliveries.inc({ ...labels, outcome }, 0);
      this.alertWebhookRetries.inc(labels, 0);
      this.alertWebhookPending.set(labels, 0);
    }
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'petrascore_' });
    this.heapLimit.set(getHeapStatistics().heap_size_limit);
    this.buildInfo.set({ version: PETRASCORE_VERSION, node_version: process.version, onnxruntime_version: ONNXRUNTIME_VERSION }, 1);
    // Every outcome is exported from the start at 0, so that rate() and absent() work before the first one.
    for (const type of BUS_EVENT_TYPES) this.liveEventsDropped.inc({ type }, 0);
    for (const reason of DISCONNECT_REASONS) this.liveDisconnects.inc({ reason }, 0);
    for (const result of CHECKPOINT_RESULTS) this.caseCheckpoints.inc({ result }, 0);
  }
}
