/** A flood drops thousands of connections a second: their log line is one per this window at most. */
export const WINDOW_MS = 10_000;

/**
 * Counts occurrences for a log line that must not flood the log: the first after a quiet window is reported at once
 * (nothing else may show meanwhile: while a connection cap holds, no scrape gets through), and those that follow
 * within the window are summed into one report at its end.
 */
export class WindowedCount {
  private unreported = 0;
  private window: NodeJS.Timeout | undefined;

  constructor(
    private readonly report: (count: number) => void,
    private readonly windowMs = WINDOW_MS,
  ) {}

  add(): void {
    this.unreported++;
    if (this.window === undefined) this.reportAndWait();
  }

  /** Reports what the window holds now and stops its timer (on close). */
  flush(): void {
    clearTimeout(this.window);
    this.window = undefined;
    if (this.unreported > 0) this.reportNow();
  }

  private reportNow(): void {
    const count = this.unreported;
    this.unreported = 0;
    this.report(count);
  }

  private reportAndWait(): void {
    this.reportNow();
    this.window = setTimeout(() => {
      this.window = undefined;
      if (this.unreported > 0) this.reportAndWait();
    }, this.windowMs);
    this.window.unref();
  }
}
