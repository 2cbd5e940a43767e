import type { Registry } from 'prom-client';
import { DeferredCounter, DeferredHistogram, type CounterSeries, type HistogramSeries } from './deferred-metrics.js';

type Label = 'method' | 'route' | 'status';

interface RouteSeries {
  readonly requests: CounterSeries;
  readonly duration: HistogramSeries;
}

/**
 * HTTP request counts and durations by method, route pattern and status: a request costs three map lookups and a
 * few additions (the label sets are few, so their series are found without building a key).
 */
export class RouteTimings {
  private readonly byRoute = new Map<string, Map<string, Map<number, RouteSeries>>>();
  readonly requests: DeferredCounter<Label>;
  readonly duration: DeferredHistogram<Label>;

  constructor(registry: Registry, buckets: readonly number[]) {
    const labelNames = ['method', 'route', 'status'] as const;
    this.requests = new DeferredCounter({ name: 'petrascore_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status code', labelNames, registry });
    this.duration = new DeferredHistogram({
      name: 'petrascore_http_request_duration_seconds',
      help: 'Time from request received to response sent, by method, route pattern and status code',
      labelNames,
      buckets,
      registry,
    });
  }

  record(method: string, route: string, status: number, seconds: number): void {
    const series = this.series(method, route, status);
    series.requests.inc();
    series.duration.observe(seconds);
  }

  private series(method: string, route: string, status: number): RouteSeries {
    let byMethod = this.byRoute.get(route);
    if (byMethod === undefined) this.byRoute.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (series === undefined) {
      const labels = { method, route, status: String(status) };
      series = { requests: this.requests.series(labels), duration: this.duration.series(labels) };
      byStatus.set(status, series);
    }
    return series;
  }
}
