import { redactUrl } from '../http/shown-url.js';
import type { LiveLogger } from './bus.js';
import type { AlertEvent } from './events.js';
import { retryAfterMs } from './retry-after.js';
import { WebhookAttempt } from './webhook-attempt.js';

export const WEBHOOK_OUTCOMES = ['sent', 'failed', 'dropped'] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

/** `webhook`: the URL's place among the --alert-webhook URLs, 1 for the first (as the log's webhook_index). */
export interface WebhookMetricsSink {
  outcome(webhook: number, outcome: WebhookOutcome): void;
  retried(webhook: number): void;
}

export interface WebhookOptions {
  timeoutMs: number;
  /** Retries after the first attempt. */
  retries: number;
  /** Alerts waiting per URL; beyond it the oldest waiting one is dropped. */
  queueSize: number;
  /** First retry delay; doubles per retry, at most 30 s. */
  backoffMs?: number;
  userAgent: string;
  log: LiveLogger;
  metrics: WebhookMetricsSink;
}

const MAX_BACKOFF_MS = 30_000;
const DROP_LOG_INTERVAL_MS = 10_000;

class PermanentFailure extends Error {}

/** A 429 or 503 whose `Retry-After` says when to come back: the retry waits that long if it is beyond the backoff. */
class RetryLater extends Error {
  constructor(
    message: string,
    readonly afterMs: number,
  ) {
    super(message);
  }
}

/**
 * The URL to POST to and the headers its credentials become: fetch refuses a URL with `user:password@`, so they are
 * sent as HTTP Basic authorization instead, as curl would.
 */
function endpointOf(url: string): { url: string; headers: Record<string, string> } {
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '') return { url, headers: {} };
  const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.href, headers: { authorization: `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}` } };
}

/** One webhook URL: a bounded queue drained by one delivery loop, so alerts arrive in order. */
class WebhookTarget {
  private readonly queue: AlertEvent[] = [];
  private running = false;
  private closed = false;
  private readonly abort = new AbortController();
  private droppedSinceLog = 0;
  private lastDropLog = 0;
  private dropLogTimer: NodeJS.Timeout | undefined;
  private sleeping: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private readonly endpoint: { url: string; headers: Record<string, string> };
  readonly shown: string;
  /**
   * What a log line says of this URL: its origin, and its place among the --alert-webhook URLs (1 for the first), which
   * tells apart two webhooks of one host now that their paths are not shown.
   */
  readonly logged: { webhook: string; webhook_index: number };

  constructor(
    readonly url: string,
    index: number,
    private readonly options: WebhookOptions,
  ) {
    this.shown = redactUrl(url);
    this.logged = { webhook: this.shown, webhook_index: index + 1 };
    this.endpoint = endpointOf(url);
  }

  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  enqueue(alert: AlertEvent): void {
    if (this.closed) return;
    if (this.queue.length >= this.options.queueSize) {
      this.queue.shift();
      this.options.metrics.outcome(this.logged.webhook_index, 'dropped');
      this.droppedSinceLog++;
      // One line per interval at most, with every drop counted: the first of a burst is logged once the burst is over.
      this.dropLogTimer ??= setTimeout(() => this.logDrops(), Math.max(0, this.lastDropLog + DROP_LOG_INTERVAL_MS - Date.now()));
      this.dropLogTimer.unref();
    }
    this.queue.push(alert);
    if (!this.running) {
      this.running = true;
      // Off the caller's path: the scoring request that raised the alert does not even start the fetch.
      setImmediate(() => void this.run());
    }
  }

  private logDrops(): void {
    this.dropLogTimer = undefined;
    if (this.droppedSinceLog === 0) return;
    this.options.log.warn({ ...this.logged, dropped: this.droppedSinceLog, queue: this.options.queueSize }, 'alert webhook queue full: oldest alerts dropped');
    this.droppedSinceLog = 0;
    this.lastDropLog = Date.now();
  }

  /** Stops at once; returns how many alerts were waiting or in flight (the one in flight is aborted). */
  close(): number {
    const lost = this.pending;
    this.closed = true;
    this.abort.abort();
    if (this.sleeping !== undefined) {
      clearTimeout(this.sleeping.timer);
      this.sleeping.wake();
    }
    if (this.dropLogTimer !== undefined) clearTimeout(this.dropLogTimer);
    this.logDrops();
    this.queue.length = 0;
    return lost;
  }

  private async run(): Promise<void> {
    try {
      for (let alert = this.queue.shift(); alert !== undefined && !this.closed; alert = this.queue.shift()) await this.deliver(alert);
    } finally {
      this.running = false;
    }
  }

  private async deliver(alert: AlertEvent): Promise<void> {
    const body = JSON.stringify(alert);
    const attempts = this.options.retries + 1;
    let problem = '';
    for (let attempt = 1; attempt <= attempts && !this.closed; attempt++) {
      try {
        await this.post(body, alert.id, attempt);
        this.options.metrics.outcome(this.logged.webhook_index, 'sent');
        return;
      } catch (error) {
        // An error text may quote the URL, which may carry a token.
        problem = (error instanceof Error ? error.message : String(error)).replaceAll(this.url, this.shown).replaceAll(this.endpoint.url, this.shown);
        if (error instanceof PermanentFailure || this.closed) break;
        if (attempt < attempts) {
          this.options.metrics.retried(this.logged.webhook_index);
          const backoffMs = Math.min(MAX_BACKOFF_MS, (this.options.backoffMs ?? 500) * 2 ** (attempt - 1));
          // A rate-limited receiver (Slack answers 429 with Retry-After) refuses every retry of a shorter backoff.
          const asked = error instanceof RetryLater ? { retry_after_ms: error.afterMs } : {};
          this.options.log.info({ ...this.logged, alert: alert.id, attempt, problem, ...asked }, 'alert webhook attempt failed; retrying');
          await this.sleep(Math.max(backoffMs, error instanceof RetryLater ? error.afterMs : 0));
        }
      }
    }
    if (this.closed) return;
    this.options.metrics.outcome(this.logged.webhook_index, 'failed');
    this.options.log.warn({ ...this.logged, alert: alert.id, case_id: alert.case_id, problem }, 'alert webhook delivery failed');
  }

  private async post(body: string, alertId: number, attempt: number): Promise<void> {
    const current = new WebhookAttempt(this.abort.signal, this.options.timeoutMs);
    try {
      let response: Response;
      try {
        response = await fetch(this.endpoint.url, {
          method: 'POST',
          headers: {
            ...this.endpoint.headers,
            'content-type': 'application/json',
            'user-agent': this.options.userAgent,
            'x-petrascore-alert-id': String(alertId),
            'x-petrascore-attempt': String(attempt),
          },
          body,
          signal: current.signal,
          // A redirect is answered, not followed: re-posting an alert elsewhere is the receiver's configuration to fix.
          redirect: 'manual',
        });
      } catch (error) {
        if (current.timedOut) throw new Error(`no answer within ${this.options.timeoutMs} ms`);
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        // Refused by fetch itself, before any connection: no retry can get through.
        if (cause?.message === 'bad port') throw new PermanentFailure(`fetch refuses port ${new URL(this.endpoint.url).port}, one of the ports the Fetch standard blocks (6666, 6667, 10080, …): give the receiver another port`);
        if (cause?.code === 'ERR_SSL_WRONG_VERSION_NUMBER') throw new PermanentFailure(`${cause.code}: the TLS handshake failed, as it does when an https URL names a receiver that speaks plain HTTP`);
        throw new Error(cause?.code ?? cause?.message ?? (error as Error).message);
      }
      await response.body?.cancel().catch(() => {});
      if (response.ok) return;
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      const message = response.status >= 300 && response.status < 400 ? `HTTP ${response.status} (redirects are not followed)` : `HTTP ${response.status}`;
      if (!retryable) throw new PermanentFailure(message);
      const afterMs = response.status === 429 || response.status === 503 ? retryAfterMs(response.headers.get('retry-after'), Date.now()) : undefined;
      throw afterMs === undefined ? new Error(message) : new RetryLater(message, afterMs);
    } finally {
      current.settle();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.sleeping = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.sleeping = { timer, wake };
    });
  }
}

/**
 * --alert-webhook: every alert POSTed as JSON (the alert event itself) to every URL, each with a timeout, retries with
 * exponential backoff and a bounded queue. Nothing here is awaited by scoring: `deliver` only appends to queues.
 */
export class AlertWebhooks {
  private readonly targets: WebhookTarget[];
  private stopped = false;

  constructor(
    urls: readonly string[],
    private readonly options: WebhookOptions,
  ) {
    this.targets = urls.map((url, index) => new WebhookTarget(url, index, options));
  }

  get size(): number {
    return this.targets.length;
  }

  /** Alerts waiting or in flight, over all URLs. */
  get pending(): number {
    return this.targets.reduce((n, t) => n + t.pending, 0);
  }

  /** Alerts waiting or in flight for each URL, by its place among them (1 for the first). */
  pendingByWebhook(): { webhook: number; pending: number }[] {
    return this.targets.map((target) => ({ webhook: target.logged.webhook_index, pending: target.pending }));
  }

  deliver(alert: AlertEvent): void {
    for (const target of this.targets) target.enqueue(alert);
  }

  /**
   * Stops delivering, after giving the alerts already raised up to `graceMs` to go out (those of the last requests of
   * a drain, most often); what is still waiting or in flight then is aborted, counted as dropped and logged as lost.
   */
  async close(graceMs = this.options.timeoutMs): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (!this.stopped && this.pending > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    this.stop();
  }

  /**
   * Stops delivering at once: what is still waiting or in flight is aborted, counted as dropped and logged as lost.
   * Once only; also what a shutdown that timed out (or a second signal) does on its way out, where close never ran.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const target of this.targets) {
      const lost = target.close();
      for (let i = 0; i < lost; i++) this.options.metrics.outcome(target.logged.webhook_index, 'dropped');
      if (lost > 0) this.options.log.warn({ ...target.logged, lost }, 'alert webhook: undelivered alerts dropped at shutdown');
    }
  }
}
