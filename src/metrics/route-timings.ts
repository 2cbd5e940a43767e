import { Counter, Histogram, type MetricType, type Registry } from 'prom-client';

type Label = 'method' | 'route' | 'status';

// prom-client's typings declare MetricType as a numeric enum that its JavaScript does not export; at run time a
// metric's type is the string the exposition format prints.
const HISTOGRAM = 'histogram' as unknown as MetricType;

interface Timing {
  readonly labels: Readonly<Record<Label, string>>;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
  /** Requests not yet handed to the prom-client counter. */
  uncounted: number;
}

/**
 * A histogram whose observations are accumulated by RouteTimings: it reports what that accumulated, in prom-client's
 * own export shape, so the registry formats it like any histogram.
 */
class AccumulatedHistogram extends Histogram<Label> {
  constructor(
    private readonly metricName: string,
    private readonly helpText: string,
    private readonly bounds: readonly number[],
    private readonly timings: () => Iterable<Timing>,
    registry: Registry,
  ) {
    super({ name: metricName, help: helpText, labelNames: ['method', 'route', 'status'], buckets: [...bounds], registers: [registry] });
  }

  override async get(): ReturnType<Histogram<Label>['get']> {
    const values: Awaited<ReturnType<Histogram<Label>['get']>>['values'] = [];
    for (const timing of this.timings()) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += timing.counts[i]!;
        const labels: Record<string, string | number> = { ...timing.labels, le: i < this.bounds.length ? this.bounds[i]! : '+Inf' };
        values.push({ labels, value: cumulative, metricName: `${this.metricName}_bucket` });
      }
      values.push({ labels: timing.labels, value: timing.sum, metricName: `${this.metricName}_sum` });
      values.push({ labels: timing.labels, value: timing.count, metricName: `${this.metricName}_count` });
    }
    return { name: this.metricName, help: this.helpText, type: HISTOGRAM, aggregator: 'sum', collect: () => undefined, values };
  }

  /** The registry prefers this to get() when present; prom-client's own reads its internal store, which stays empty. */
  getForPromString(): ReturnType<Histogram<Label>['get']> {
    return this.get();
  }
}

/**
 * HTTP request counts and durations by method, route pattern and status. prom-client hashes the label set and
 * allocates on every observation; at tens of thousands of requests per second that was measurable, so a request
 * costs three map lookups and a few additions here, and prom-client sees the totals when /metrics is scraped.
 */
export class RouteTimings {
  private readonly byRoute = new Map<string, Map<string, Map<number, Timing>>>();
  private readonly all: Timing[] = [];
  readonly requests: Counter<Label>;
  readonly duration: Histogram<Label>;

  constructor(
    registry: Registry,
    private readonly bounds: readonly number[],
  ) {
    const all = this.all;
    this.requests = new Counter({
      name: 'petrascore_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
      collect() {
        for (const timing of all) {
          if (timing.uncounted === 0) continue;
          this.inc(timing.labels, timing.uncounted);
          timing.uncounted = 0;
        }
      },
    });
    this.duration = new AccumulatedHistogram(
      'petrascore_http_request_duration_seconds',
      'Time from request received to response sent, by method, route pattern and status code',
      bounds,
      () => all,
      registry,
    );
  }

  record(method: string, route: string, status: number, seconds: number): void {
    const timing = this.timing(method, route, status);
    let bucket = 0;
    while (bucket < this.bounds.length && seconds > this.bounds[bucket]!) bucket++;
    timing.counts[bucket]!++;
    timing.sum += seconds;
    timing.count++;
    timing.uncounted++;
  }

  private timing(method: string, route: string, status: number): Timing {
    let byMethod = this.byRoute.get(route);
    if (byMethod === undefined) this.byRoute.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()));
    let timing = byStatus.get(status);
    if (timing === undefined) {
      timing = { labels: { method, route, status: String(status) }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0, uncounted: 0 };
      byStatus.set(status, timing);
      this.all.push(timing);
    }
    return timing;
  }
}
