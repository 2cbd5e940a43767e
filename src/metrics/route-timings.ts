import type { Registry } from 'prom-client';
import { DeferredCounter, DeferredHistogram, type CounterSeries, type HistogramSeries } from './deferred-metrics.js';

type Label = 'method' | 'route' | 'status';

interface RouteSeries {
  readonly requests: CounterSeries;
  readonly duration: HistogramSeries;
}

/**
 * One route pattern's requests, by method and status. Bound to its route once, so a request finds its series without
 * building a key: a route answers mostly with one method and one status, so the last series used is checked first.
 */
export class RouteRecorder {
  private readonly byMethod = new Map<string, Map<number, RouteSeries>>();
  private lastMethod = '';
  private lastStatus = 0;
  private last: RouteSeries | undefined;

  constructor(
    private readonly timings: RouteTimings,
    readonly route: string,
  ) {}

  record(method: string, status: number, seconds: number): void {
    let series = this.last;
    if (series === undefined || method !== this.lastMethod || status !== this.lastStatus) {
      series = this.series(method, status);
      this.last = series;
      this.lastMethod = method;
      this.lastStatus = status;
    }
    series.requests.inc();
    series.duration.observe(seconds);
  }

  private series(method: string, status: number): RouteSeries {
    let byStatus = this.byMethod.get(method);
    if (byStatus === undefined) this.byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (series === undefined) {
      const labels = { method, route: this.route, status: String(status) };
      series = { requests: this.timings.requests.series(labels), duration: this.timings.duration.series(labels) };
      byStatus.set(status, series);
    }
    return series;
  }
}

/** HTTP request counts and durations by method, route pattern and status. */
export class RouteTimings {
  private readonly recorders = new Map<string, RouteRecorder>();
  readonly requests: DeferredCounter<Label>;
  readonly duration: DeferredHistogram<Label>;

  constructor(registry: Registry, buckets: readonly number[]) {
    const labelNames = ['method', 'route', 'status'] as const;
    this.requests = new DeferredCounter({ name: 'petrascore_http_requests_total', help: 'HTTP requests answered, by method, route pattern (unmatched for 404s, 405s and URLs refused before routing) and status code; a /live stream counts when it ends; a request whose client went away before its answer (a caller that timed out) counts under status 499', labelNames, registry });
    this.duration = new DeferredHistogram({
      name: 'petrascore_http_request_duration_seconds',
      help: 'Time from request received to response sent (for a /live stream: its whole life; under status 499, to its client going away), by method, route pattern and status code',
      labelNames,
      buckets,
      registry,
    });
  }

  /** The recorder of one route pattern (the same one for every caller, so a GET route and its HEAD share series). */
  forRoute(route: string): RouteRecorder {
    let recorder = this.recorders.get(route);
    if (recorder === undefined) this.recorders.set(route, (recorder = new RouteRecorder(this, route)));
    return recorder;
  }
}
