/**
 * The signal of one webhook delivery attempt: aborted by its timeout, or by the target's shutdown signal. A controller
 * of its own per attempt, a timer the timer list holds, and a listener on the shutdown signal that `settle()` removes,
 * rather than `AbortSignal.any([shutdown, AbortSignal.timeout(ms)])`, which on Node 20 failed twice over: the composite
 * holds its sources weakly, so a collection during the attempt took the timeout signal and its timer with it (an
 * attempt to a receiver that never answers then waited for ever); and every composite left an entry among the
 * dependants of the process-long shutdown signal that is never pruned (nodejs/node#55351, #64476), about 65 bytes per
 * attempt for good. Once settled, an attempt leaves nothing behind.
 */
export class WebhookAttempt {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private expired = false;
  private readonly onShutdown = () => this.end();

  constructor(
    private readonly shutdown: AbortSignal,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(() => {
      this.expired = true;
      this.end(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError'));
    }, timeoutMs);
    // A pending attempt must not keep a process that is otherwise done alive.
    this.timer.unref();
    if (shutdown.aborted) this.end();
    else shutdown.addEventListener('abort', this.onShutdown, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The attempt was ended by its timeout, not by the shutdown. */
  get timedOut(): boolean {
    return this.expired;
  }

  /** The attempt is over (answered or failed): its timer and its listener on the shutdown signal go. */
  settle(): void {
    clearTimeout(this.timer);
    this.shutdown.removeEventListener('abort', this.onShutdown);
  }

  private end(reason?: unknown): void {
    this.settle();
    this.controller.abort(reason);
  }
}
