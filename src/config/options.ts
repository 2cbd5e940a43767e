import { SATURATED_HOLD_MS, SATURATION_WINDOW_MS } from '../inference/batcher.js';
import { withoutSecrets } from '../http/shown-url.js';
import { WINDOW_MS as DROP_LOG_WINDOW_MS } from '../http/windowed-count.js';
import { ADMIN_REQUEST_TIMEOUT_MS } from '../plugins/admin-listener.js';
import { parseLaneThreshold } from './lane-thresholds.js';
import type { InferenceThreadSetting } from '../inference/choose-thread.js';

/** Which requests get their log line: every one, only those answered 4xx/5xx (and those abandoned), or none. */
export type RequestLogSetting = 'all' | 'errors' | 'none';

/**
 * Every setting of `petrascore serve`, once: its flag, its environment variable, its default and what it means.
 * `--help`, the README's configuration table and the parser all read this list.
 */
export interface ServeConfig {
  bundle: string;
  host: string;
  port: number;
  adminPort: number;
  adminHost: string;
  adminMaxConnections: number;
  logLevel: string;
  requestLog: RequestLogSetting;
  bodyLimit: number;
  requestIdleTimeoutMs: number;
  requestBodyTimeoutMs: number;
  maxConnections: number;
  maxEventsPerRequest: number;
  maxResidualsPerRequest: number;
  maxOpenCases: number;
  caseIdleTimeoutSeconds: number;
  maxEventsPerCase: number;
  maxAttributesPerCase: number;
  maxAttributeCharsPerCase: number;
  maxAttributeChars: number;
  scoreEveryEvent: boolean;
  maxBatchRows: number;
  maxBatchWaitMs: number;
  batchHoldFrom: number;
  inferenceThread: InferenceThreadSetting;
  inferenceTimeoutMs: number;
  shutdownTimeoutMs: number;
  drainDelayMs: number;
  laneAttribute: string;
  alertThreshold: number;
  alertLaneThresholds: string[];
  alertExplanationFloor: number;
  alertWebhooks: string[];
  alertWebhookTimeoutMs: number;
  alertWebhookRetries: number;
  alertWebhookQueue: number;
  alertWebhookBackoffMs: number;
  endedCaseMemory: number;
  repeatClose: boolean;
  caseStateFile: string;
  caseStateCheckpointSeconds: number;
  liveRingSize: number;
  liveAlertHistory: number;
  liveMaxSubscribers: number;
  liveSubscriberBuffer: number;
  liveSubscriberGraceMs: number;
  liveHeartbeatMs: number;
  liveStatsIntervalMs: number;
}

/**
 * The kinds an option may have for a setting of type T: a setting's type fixes how its values are parsed. `number` is
 * any finite decimal; `list` is repeatable on the command line and whitespace-separated in the environment.
 */
type KindFor<T> = T extends boolean ? 'boolean' : T extends number ? 'integer' | 'number' : T extends string ? 'string' : T extends readonly string[] ? 'list' : never;

interface OptionFields {
  flag: string;
  env: string;
  description: string;
  min?: number;
  max?: number;
  /** The only values a string option accepts. */
  choices?: readonly string[];
  /** What --help shows for the value (default: N, X or VALUE by kind). */
  metavar?: string;
  /** For `string` and `list` options: what is wrong with one value, or undefined when it is acceptable. */
  check?: (value: string) => string | undefined;
}

/** One setting's option: its kind and default agree with the setting's type in ServeConfig. */
export type OptionSpec = {
  [K in keyof ServeConfig]: OptionFields & { key: K; kind: KindFor<ServeConfig[K]>; default: ServeConfig[K] extends string[] ? readonly string[] : ServeConfig[K] };
}[keyof ServeConfig];

/** The accepted range in words where it is not just "not negative" or "at least one", e.g. `at least 1024`, `0–65535`. */
export function rangeOf(option: OptionSpec): string | undefined {
  const { min, max } = option;
  if (min !== undefined && max !== undefined) return `${min}–${max}`;
  if (max !== undefined) return `at most ${max}`;
  if (min !== undefined && min > 1) return `at least ${min}`;
  return undefined;
}

/** The option's meaning, with its range when that says more than the kind does (the --help text and the README table). */
export function describeOption(option: OptionSpec): string {
  const range = rangeOf(option);
  return range === undefined ? option.description : `${option.description}; ${range}`;
}

function checkHttpUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `'${withoutSecrets(value)}' is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `'${withoutSecrets(value)}' is not an http:// or https:// URL`;
  // They become a Basic authorization header, decoded: a URL parses with `%zz` in them, and the decoding threw at startup.
  if (!decodes(url.username) || !decodes(url.password)) return `'${withoutSecrets(value)}' has a user name or password that is not valid percent-encoding`;
  return undefined;
}

function decodes(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

function checkLaneThreshold(value: string): string | undefined {
  const parsed = parseLaneThreshold(value);
  return 'problem' in parsed ? parsed.problem : undefined;
}

/**
 * 10,000 connections held open with half-sent headers (slowloris) took 40 MB of the server's memory; an uncapped
 * flood grows until the open-file limit (which Node raises to the hard limit, usually 524,288 or 1,048,576) or the
 * memory limit. 128 connections already saturate 2 cores, and load balancers' keep-alive pools and
 * --live-max-subscribers are tens to hundreds (README, Limits).
 */
const MAX_CONNECTIONS_DEFAULT = 10_000;

/** Linux's default fs.nr_open, the most files a process may open: a cap beyond it could never be reached. */
const MAX_OPEN_FILES = 1_048_576;

/** setTimeout's longest delay: a longer one fires at once (Node warns, and a 3e9 ms shutdown timeout ended the drain in 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

const OPTIONS = [
  { key: 'bundle', flag: 'bundle', env: 'PETRASCORE_BUNDLE', kind: 'string', default: 'models/loan_approval/model.onnx', description: 'ONNX model to serve (also the first positional argument); its sidecar is <model>.meta.json beside it' },
  { key: 'host', flag: 'host', env: 'PETRASCORE_HOST', kind: 'string', default: '127.0.0.1', description: 'address to listen on (0.0.0.0 for all IPv4 interfaces; :: for all IPv4 and IPv6 ones, where the kernel has IPv6, as in an IPv6 or dual-stack cluster)' },
  { key: 'port', flag: 'port', env: 'PETRASCORE_PORT', kind: 'integer', default: 8000, min: 0, max: 65535, description: 'TCP port (0 picks a free one)' },
  {
    key: 'adminPort',
    flag: 'admin-port',
    env: 'PETRASCORE_ADMIN_PORT',
    kind: 'integer',
    default: 0,
    min: 0,
    max: 65535,
    description:
      `TCP port of a second listener that serves GET /healthz, /readyz and /metrics only (they stay on --port too), with a connection cap of its own, so that probes and scrapes get through while --max-connections are open on the API's port; a request's headers must arrive within ${ADMIN_REQUEST_TIMEOUT_MS / 1000} s there; 0 none. Must differ from --port unless --admin-host is another address than --host (0.0.0.0 and :: are every address they cover)`,
  },
  { key: 'adminHost', flag: 'admin-host', env: 'PETRASCORE_ADMIN_HOST', kind: 'string', default: '', description: 'address the admin listener listens on; empty: the same as --host; ignored without --admin-port' },
  { key: 'adminMaxConnections', flag: 'admin-max-connections', env: 'PETRASCORE_ADMIN_MAX_CONNECTIONS', kind: 'integer', default: 64, min: 1, max: MAX_OPEN_FILES, description: `TCP connections open at once on the admin listener (kubelet's probes and a few Prometheus servers need a handful); one more is closed unanswered as it is accepted (logged at warn, at most one line per ${DROP_LOG_WINDOW_MS / 1000} s)` },
  { key: 'logLevel', flag: 'log-level', env: 'PETRASCORE_LOG_LEVEL', kind: 'string', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], description: 'pino log level' },
  {
    key: 'requestLog',
    flag: 'request-log',
    env: 'PETRASCORE_REQUEST_LOG',
    kind: 'string',
    default: 'all',
    choices: ['all', 'errors', 'none'],
    description: 'which requests get a log line (at info, so with --log-level info or below): all (a successful /healthz, /readyz or /metrics at debug), errors (answered 4xx or 5xx, or abandoned by its client) or none; the other lines (startup, shutdown) follow --log-level alone',
  },
  { key: 'bodyLimit', flag: 'body-limit', env: 'PETRASCORE_BODY_LIMIT', kind: 'integer', default: 4 * 1024 * 1024, min: 1024, description: 'largest request body in bytes; larger bodies get 413' },
  {
    key: 'requestIdleTimeoutMs',
    flag: 'request-idle-timeout',
    env: 'PETRASCORE_REQUEST_IDLE_TIMEOUT',
    kind: 'integer',
    default: 60000,
    min: 0,
    max: MAX_TIMER_MS,
    description: "milliseconds a request's body may stop arriving (not a byte more; checked each second) before the client gets 408 and its connection is closed, so that a stalled upload holds neither a connection nor the shutdown drain (headers that stall get Node's 408 after 60 to 90 s); 0 no limit",
  },
  {
    key: 'requestBodyTimeoutMs',
    flag: 'request-body-timeout',
    env: 'PETRASCORE_REQUEST_BODY_TIMEOUT',
    kind: 'integer',
    default: 300000,
    min: 0,
    max: MAX_TIMER_MS,
    description: "milliseconds a request's whole body may take to arrive (checked each second) before the client gets 408 and its connection is closed: a body sent a byte now and then never stalls (the default, five minutes, lets a 4 MiB body, the default --body-limit, arrive at 14 KB/s); 0 no limit",
  },
  {
    key: 'maxConnections',
    flag: 'max-connections',
    env: 'PETRASCORE_MAX_CONNECTIONS',
    kind: 'integer',
    default: MAX_CONNECTIONS_DEFAULT,
    min: 0,
    max: MAX_OPEN_FILES,
    description: `TCP connections open at once, whatever they carry (requests, idle keep-alive connections, /live streams, headers still arriving); one more is closed unanswered as it is accepted, probes and scrapes included (counted; logged at warn, at most one line per ${DROP_LOG_WINDOW_MS / 1000} s); 0 no cap. The default holds a flood of slow or idle connections to about 40 MB and below the open-file limit (there Node closes new connections uncounted, and static files and webhooks fail), and is far above load balancers' keep-alive pools; must be more than --live-max-subscribers`,
  },
  { key: 'maxEventsPerRequest', flag: 'max-events-per-request', env: 'PETRASCORE_MAX_EVENTS_PER_REQUEST', kind: 'integer', default: 10000, min: 1, description: 'most events in one POST /events, traces in one POST /anomaly/batch, events in one trace, keys in one input_marking or input_values; more gets 413' },
  {
    key: 'maxResidualsPerRequest',
    flag: 'max-residuals-per-request',
    env: 'PETRASCORE_MAX_RESIDUALS_PER_REQUEST',
    kind: 'integer',
    default: 250000,
    min: 1,
    description: "most residuals one POST /anomaly/batch or scored POST /events may answer: its traces or events × the bundle's scored transitions (about 28 bytes each with ids such as scale_200's, 45 with scale_2000's, written in one piece on the event loop; the default bundle's two transitions never reach it); more gets 413",
  },
  { key: 'maxOpenCases', flag: 'max-open-cases', env: 'PETRASCORE_MAX_OPEN_CASES', kind: 'integer', default: 100000, min: 1, description: 'open streaming cases; a new case beyond it evicts the least recently touched one (counted, published; logged as one sum per 10 s, each case at debug)' },
  { key: 'caseIdleTimeoutSeconds', flag: 'case-idle-timeout', env: 'PETRASCORE_CASE_IDLE_TIMEOUT', kind: 'integer', default: 3600, min: 0, description: 'seconds without events after which an open case is evicted (counted, published; logged as one line per sweep, each case at debug); 0 never' },
  { key: 'maxEventsPerCase', flag: 'max-events-per-case', env: 'PETRASCORE_MAX_EVENTS_PER_CASE', kind: 'integer', default: 100000, min: 1, description: 'events one case may receive; the next one gets 422 until the case is closed (or deleted)' },
  { key: 'maxAttributesPerCase', flag: 'max-attributes-per-case', env: 'PETRASCORE_MAX_ATTRIBUTES_PER_CASE', kind: 'integer', default: 256, min: 1, description: "distinct attribute names one case may keep (a case keeps only those the bundle's specs read and --lane-attribute; others count for nothing); an event that would exceed it gets 422" },
  { key: 'maxAttributeCharsPerCase', flag: 'max-attribute-chars-per-case', env: 'PETRASCORE_MAX_ATTRIBUTE_CHARS_PER_CASE', kind: 'integer', default: 1_048_576, min: 1, description: 'characters of attribute names and string values one case may keep, counted as the case keeps them (only the attributes it keeps; a structured value as its str(), cut at 200); an event that would exceed it gets 422' },
  {
    key: 'maxAttributeChars',
    flag: 'max-attribute-chars',
    env: 'PETRASCORE_MAX_ATTRIBUTE_CHARS',
    kind: 'integer',
    default: 268_435_456,
    min: 0,
    description:
      "characters of attribute names and string values all open cases together may hold, counted as for --max-attribute-chars-per-case (256 MiB of one-byte characters, 512 MiB at most); beyond it the least recently touched cases holding attributes are evicted (counted, published; logged as one sum per 10 s, each case at debug); 0 no bound; 0, or at least --max-attribute-chars-per-case (when not given, it rises to a larger one)",
  },
  { key: 'endedCaseMemory', flag: 'ended-case-memory', env: 'PETRASCORE_ENDED_CASE_MEMORY', kind: 'integer', default: 10000, min: 0, max: 1_000_000, description: 'closed and evicted case ids remembered (about 100 bytes each; with --repeat-close a closed case also keeps its answer, as large as its residuals): the 404 for an ended case says how and when it ended, and --repeat-close can answer a retried close; 0 none' },
  { key: 'repeatClose', flag: 'repeat-close', env: 'PETRASCORE_REPEAT_CLOSE', kind: 'boolean', default: false, description: "a close of a case already closed (a retry after a timeout), while --ended-case-memory remembers it, answers the same final evaluation again, with x-petrascore-repeated: true, instead of PETRA's None (404); needs --ended-case-memory" },
  { key: 'caseStateFile', flag: 'case-state-file', env: 'PETRASCORE_CASE_STATE_FILE', kind: 'string', default: '', metavar: 'PATH', description: 'file the open cases are saved to at shutdown, and checkpointed to while serving (--case-state-checkpoint-interval), and restored from at startup, so that a restart, a deploy or a crash keeps them: needs a volume that outlives the container, and one file per instance; empty: open cases are dropped at shutdown. A file that cannot be read or a directory that cannot be written stops startup' },
  {
    key: 'caseStateCheckpointSeconds',
    flag: 'case-state-checkpoint-interval',
    env: 'PETRASCORE_CASE_STATE_CHECKPOINT_INTERVAL',
    kind: 'integer',
    default: 60,
    min: 0,
    max: Math.floor(MAX_TIMER_MS / 1000),
    description:
      'seconds between checkpoints of the open cases to --case-state-file while serving (none while nothing changed), so that a crash or an OOM kill loses at most that much streaming state (and the time one checkpoint takes); written in slices of a few milliseconds of the event loop while requests go on (a million cases take about a second); 0: only the shutdown saves, and the file is removed once the restored cases are served',
  },
  { key: 'scoreEveryEvent', flag: 'score-every-event', env: 'PETRASCORE_SCORE_EVERY_EVENT', kind: 'boolean', default: false, description: 'score the case on every streaming event (per request: ?score=true|false)' },
  { key: 'maxBatchRows', flag: 'max-batch-rows', env: 'PETRASCORE_MAX_BATCH_ROWS', kind: 'integer', default: 1024, min: 1, max: 65_536, description: 'most rows in one ONNX run; concurrent requests share runs up to this size' },
  { key: 'maxBatchWaitMs', flag: 'max-batch-wait', env: 'PETRASCORE_MAX_BATCH_WAIT', kind: 'integer', default: 0, min: 0, max: 1000, description: 'milliseconds an idle model holds a first request for company before running (a full batch runs at once); 0 runs at once, and requests arriving during a run share the next one' },
  { key: 'batchHoldFrom', flag: 'batch-hold-from', env: 'PETRASCORE_BATCH_HOLD_FROM', kind: 'integer', default: 16, min: 0, description: `requests sharing one ONNX run from which the model counts as saturated: a run starting within ${SATURATION_WINDOW_MS} ms of such a run waits ${SATURATED_HOLD_MS} ms for company (fewer, larger runs under heavy load; a request to a model idle for ${SATURATION_WINDOW_MS} ms runs at once); 0 never waits` },
  { key: 'inferenceThread', flag: 'inference-thread', env: 'PETRASCORE_INFERENCE_THREAD', kind: 'string', default: 'auto', choices: ['auto', 'main', 'worker'], description: 'where ONNX runs execute: on the event loop (main) or in a worker thread beside it (worker); auto picks worker when a single-row run takes 0.1 ms or more (measured at startup)' },
  {
    key: 'inferenceTimeoutMs',
    flag: 'inference-timeout',
    env: 'PETRASCORE_INFERENCE_TIMEOUT',
    kind: 'integer',
    default: 60000,
    min: 0,
    max: MAX_TIMER_MS,
    description:
      "milliseconds an ONNX run in the inference worker may go unanswered, from when the worker could begin it (checked each second), before the worker counts as stuck: the service then fails as when the worker stops (503 inference_unavailable, /healthz 503, exit 1; SIGABRT if the run still has not returned when the shutdown ends), instead of every scoring request waiting for ever while the probes answer 200; on the event loop (--inference-thread main) a stuck run stops everything, probes included; 0 no limit",
  },
  { key: 'shutdownTimeoutMs', flag: 'shutdown-timeout', env: 'PETRASCORE_SHUTDOWN_TIMEOUT', kind: 'integer', default: 10000, min: 0, max: MAX_TIMER_MS, description: 'milliseconds to finish in-flight requests on SIGTERM/SIGINT before exiting anyway' },
  {
    key: 'drainDelayMs',
    flag: 'drain-delay',
    env: 'PETRASCORE_DRAIN_DELAY',
    kind: 'integer',
    default: 0,
    min: 0,
    max: 600000,
    description: 'milliseconds between SIGTERM/SIGINT and the drain, serving as usual but with /readyz at 503, so a load balancer stops sending first; the shutdown timeout starts after it',
  },
  { key: 'laneAttribute', flag: 'lane-attribute', env: 'PETRASCORE_LANE_ATTRIBUTE', kind: 'string', default: '', metavar: 'NAME', description: "case attribute whose value is the live view's lane (e.g. host, queue); empty: one lane per process (the scenario name)" },
  { key: 'alertThreshold', flag: 'alert-threshold', env: 'PETRASCORE_ALERT_THRESHOLD', kind: 'number', default: 0.5, min: 0, description: 'an evaluation whose trace_score reaches this raises an alert (live feed, webhooks)' },
  { key: 'alertLaneThresholds', flag: 'alert-lane-threshold', env: 'PETRASCORE_ALERT_LANE_THRESHOLDS', kind: 'list', default: [], metavar: 'LANE=SCORE', check: checkLaneThreshold, description: 'the alert threshold of one lane (repeatable; whitespace-separated in the env var)' },
  { key: 'alertExplanationFloor', flag: 'alert-explanation-floor', env: 'PETRASCORE_ALERT_EXPLANATION_FLOOR', kind: 'number', default: 0.25, min: 0, max: 1, description: "an alert's explanation lists every transition whose residual exceeds this" },
  { key: 'alertWebhooks', flag: 'alert-webhook', env: 'PETRASCORE_ALERT_WEBHOOKS', kind: 'list', default: [], metavar: 'URL', check: checkHttpUrl, description: 'URL to POST every alert to as JSON (repeatable; whitespace-separated in the env var)' },
  { key: 'alertWebhookTimeoutMs', flag: 'alert-webhook-timeout', env: 'PETRASCORE_ALERT_WEBHOOK_TIMEOUT', kind: 'integer', default: 5000, min: 1, max: MAX_TIMER_MS, description: 'milliseconds one webhook delivery attempt may take' },
  { key: 'alertWebhookRetries', flag: 'alert-webhook-retries', env: 'PETRASCORE_ALERT_WEBHOOK_RETRIES', kind: 'integer', default: 3, min: 0, max: 20, description: 'retries of a failed webhook delivery (network error, timeout, 408, 429, 5xx), with exponential backoff' },
  { key: 'alertWebhookBackoffMs', flag: 'alert-webhook-backoff', env: 'PETRASCORE_ALERT_WEBHOOK_BACKOFF', kind: 'integer', default: 500, min: 1, max: MAX_TIMER_MS, description: 'milliseconds before the first webhook retry; doubles per retry, at most 30 s' },
  { key: 'alertWebhookQueue', flag: 'alert-webhook-queue', env: 'PETRASCORE_ALERT_WEBHOOK_QUEUE', kind: 'integer', default: 1000, min: 1, description: 'alerts waiting per webhook; beyond it the oldest is dropped (logged, counted)' },
  { key: 'liveRingSize', flag: 'live-ring-size', env: 'PETRASCORE_LIVE_RING_SIZE', kind: 'integer', default: 10000, min: 16, max: 1_000_000, description: 'recent live events kept for replay after Last-Event-ID; older ids get a gap and a snapshot (about 170 bytes each, taken at startup)' },
  { key: 'liveAlertHistory', flag: 'live-alert-history', env: 'PETRASCORE_LIVE_ALERT_HISTORY', kind: 'integer', default: 10_000, min: 0, max: 100_000, description: 'alerts kept after they leave the live ring, so that a reader of alerts alone (types=alert) resumes after Last-Event-ID without a gap while they last (about 2 KB each, taken as alerts come); the default holds the alerts of one /anomaly/batch at --max-events-per-request, which overflow the ring with their evaluations' },
  { key: 'liveMaxSubscribers', flag: 'live-max-subscribers', env: 'PETRASCORE_LIVE_MAX_SUBSCRIBERS', kind: 'integer', default: 64, min: 0, description: 'concurrent GET /live streams; more get 503' },
  { key: 'liveSubscriberBuffer', flag: 'live-subscriber-buffer', env: 'PETRASCORE_LIVE_SUBSCRIBER_BUFFER', kind: 'integer', default: 5000, min: 1, description: 'events a /live subscriber may fall behind while its connection is blocked; beyond it for longer than --live-subscriber-grace it is disconnected (it can resume)' },
  { key: 'liveSubscriberGraceMs', flag: 'live-subscriber-grace', env: 'PETRASCORE_LIVE_SUBSCRIBER_GRACE', kind: 'integer', default: 5000, min: 0, max: 600_000, description: 'milliseconds a /live subscriber may stay more than --live-subscriber-buffer events behind before it is disconnected, so that a reader that keeps reading survives a burst (one large POST /events or /anomaly/batch publishes its events at once); 0 disconnects at once' },
  { key: 'liveHeartbeatMs', flag: 'live-heartbeat', env: 'PETRASCORE_LIVE_HEARTBEAT', kind: 'integer', default: 15000, min: 100, max: MAX_TIMER_MS, description: 'milliseconds between heartbeats on idle /live streams (a comment and the id of the last event passed)' },
  { key: 'liveStatsIntervalMs', flag: 'live-stats-interval', env: 'PETRASCORE_LIVE_STATS_INTERVAL', kind: 'integer', default: 1000, min: 0, max: MAX_TIMER_MS, description: 'milliseconds between live stats events; 0 none' },
] as const satisfies readonly OptionSpec[];

/** A setting of ServeConfig without an option would be undefined at runtime behind its type: this fails to compile. */
type SettingsWithoutOption = Exclude<keyof ServeConfig, (typeof OPTIONS)[number]['key']>;
const everySettingHasAnOption: [SettingsWithoutOption] extends [never] ? true : SettingsWithoutOption = true;
void everySettingHasAnOption;

export const SERVE_OPTIONS: readonly OptionSpec[] = OPTIONS;

export function defaultConfig(): ServeConfig {
  const config: Record<string, string | number | boolean | string[]> = {};
  for (const option of SERVE_OPTIONS) config[option.key] = Array.isArray(option.default) ? [...(option.default as readonly string[])] : (option.default as string | number | boolean);
  // Every setting has an option whose kind and default fit its type (both checked at compile time above).
  return config as unknown as ServeConfig;
}
