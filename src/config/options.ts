/**
 * Every setting of `petrascore serve`, once: its flag, its environment variable, its default and what it means.
 * `--help`, the README's configuration table and the parser all read this list.
 */
export interface ServeConfig {
  bundle: string;
  host: string;
  port: number;
  logLevel: string;
  bodyLimit: number;
  maxEventsPerRequest: number;
  maxOpenCases: number;
  caseIdleTimeoutSeconds: number;
  maxEventsPerCase: number;
  maxAttributesPerCase: number;
  scoreEveryEvent: boolean;
  maxBatchRows: number;
  shutdownTimeoutMs: number;
}

type Kind = 'string' | 'integer' | 'boolean';

export interface OptionSpec {
  key: keyof ServeConfig;
  flag: string;
  env: string;
  kind: Kind;
  default: string | number | boolean;
  description: string;
  min?: number;
  max?: number;
  /** The only values a string option accepts. */
  choices?: readonly string[];
}

export const SERVE_OPTIONS: readonly OptionSpec[] = [
  { key: 'bundle', flag: 'bundle', env: 'PETRASCORE_BUNDLE', kind: 'string', default: 'models/loan_approval/model.onnx', description: 'ONNX model to serve (also the first positional argument); its sidecar is <model>.meta.json beside it' },
  { key: 'host', flag: 'host', env: 'PETRASCORE_HOST', kind: 'string', default: '127.0.0.1', description: 'address to listen on (0.0.0.0 for all interfaces)' },
  { key: 'port', flag: 'port', env: 'PETRASCORE_PORT', kind: 'integer', default: 8000, min: 0, max: 65535, description: 'TCP port (0 picks a free one)' },
  { key: 'logLevel', flag: 'log-level', env: 'PETRASCORE_LOG_LEVEL', kind: 'string', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], description: 'pino log level' },
  { key: 'bodyLimit', flag: 'body-limit', env: 'PETRASCORE_BODY_LIMIT', kind: 'integer', default: 4 * 1024 * 1024, min: 1024, description: 'largest request body in bytes; larger bodies get 413' },
  { key: 'maxEventsPerRequest', flag: 'max-events-per-request', env: 'PETRASCORE_MAX_EVENTS_PER_REQUEST', kind: 'integer', default: 10000, min: 1, description: 'most events in one POST /events, traces in one POST /anomaly/batch, events in one trace; more gets 413' },
  { key: 'maxOpenCases', flag: 'max-open-cases', env: 'PETRASCORE_MAX_OPEN_CASES', kind: 'integer', default: 100000, min: 1, description: 'open streaming cases; a new case beyond it evicts the least recently touched one (logged, counted)' },
  { key: 'caseIdleTimeoutSeconds', flag: 'case-idle-timeout', env: 'PETRASCORE_CASE_IDLE_TIMEOUT', kind: 'integer', default: 3600, min: 0, description: 'seconds without events after which an open case is evicted (logged, counted); 0 never' },
  { key: 'maxEventsPerCase', flag: 'max-events-per-case', env: 'PETRASCORE_MAX_EVENTS_PER_CASE', kind: 'integer', default: 100000, min: 1, description: 'events one case may receive; the next one gets 422 until the case is closed' },
  { key: 'maxAttributesPerCase', flag: 'max-attributes-per-case', env: 'PETRASCORE_MAX_ATTRIBUTES_PER_CASE', kind: 'integer', default: 256, min: 1, description: 'distinct attribute names one case may hold; an event that would exceed it gets 422' },
  { key: 'scoreEveryEvent', flag: 'score-every-event', env: 'PETRASCORE_SCORE_EVERY_EVENT', kind: 'boolean', default: false, description: 'score the case on every streaming event (per request: ?score=true|false)' },
  { key: 'maxBatchRows', flag: 'max-batch-rows', env: 'PETRASCORE_MAX_BATCH_ROWS', kind: 'integer', default: 1024, min: 1, description: 'most rows in one ONNX run; concurrent requests share runs up to this size' },
  { key: 'shutdownTimeoutMs', flag: 'shutdown-timeout', env: 'PETRASCORE_SHUTDOWN_TIMEOUT', kind: 'integer', default: 10000, min: 0, description: 'milliseconds to finish in-flight requests on SIGTERM/SIGINT before exiting anyway' },
];

export function defaultConfig(): ServeConfig {
  const config: Record<string, string | number | boolean> = {};
  for (const option of SERVE_OPTIONS) config[option.key] = option.default;
  return config as unknown as ServeConfig;
}
