const SECONDS = 60;
const RATE_WINDOW_S = 10;
const LATENCIES = 1024;

/** Per-second counts over the last minute: O(1) to record, O(60) to read. */
class SecondCounter {
  private readonly counts = new Float64Array(SECONDS);
  private readonly stamps = new Float64Array(SECONDS).fill(-1);

  add(second: number, n = 1): void {
    const slot = second % SECONDS;
    if (this.stamps[slot] !== second) {
      this.stamps[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot]! += n;
  }

  /** Sum over the `window` seconds ending with `second` (inclusive). */
  sum(second: number, window: number): number {
    let total = 0;
    for (let i = 0; i < SECONDS; i++) {
      const stamp = this.stamps[i]!;
      if (stamp > second - window && stamp <= second) total += this.counts[i]!;
    }
    return total;
  }
}

export interface StatsNumbers {
  open_cases: number;
  events_per_s: number;
  scores_per_s: number;
  alerts_last_minute: number;
  latency_p50_ms?: number;
  latency_p99_ms?: number;
  subscribers: number;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Event, score and alert rates and scoring latency percentiles for the `stats` event. */
export class StatsTracker {
  private readonly events = new SecondCounter();
  private readonly scores = new SecondCounter();
  private readonly alerts = new SecondCounter();
  private readonly latencies = new Float64Array(LATENCIES);
  private latencyCount = 0;
  private readonly startedAt: number;

  constructor(private readonly now: () => number = Date.now) {
    this.startedAt = now();
  }

  private second(): number {
    return Math.floor(this.now() / 1000);
  }

  recordEvent(): void {
    this.events.add(this.second());
  }

  /** `atMs`: when it was scored, if the caller has read the clock already (epoch milliseconds). */
  recordScore(latencyMs: number, atMs: number = this.now()): void {
    this.scores.add(Math.floor(atMs / 1000));
    this.latencies[this.latencyCount % LATENCIES] = latencyMs;
    this.latencyCount++;
  }

  recordAlert(): void {
    this.alerts.add(this.second());
  }

  compute(openCases: number, subscribers: number): StatsNumbers {
    const second = this.second();
    // Young trackers divide by the seconds they have seen, so a burst in the first seconds is not diluted over 10.
    const window = Math.min(RATE_WINDOW_S, second - Math.floor(this.startedAt / 1000) + 1);
    const stats: StatsNumbers = {
      open_cases: openCases,
      events_per_s: round(this.events.sum(second, window) / window, 1),
      scores_per_s: round(this.scores.sum(second, window) / window, 1),
      alerts_last_minute: this.alerts.sum(second, SECONDS),
      subscribers,
    };
    const n = Math.min(this.latencyCount, LATENCIES);
    if (n > 0) {
      const sorted = this.latencies.slice(0, n).sort();
      stats.latency_p50_ms = round(percentile(sorted, 50), 3);
      stats.latency_p99_ms = round(percentile(sorted, 99), 3);
    }
    return stats;
  }
}
