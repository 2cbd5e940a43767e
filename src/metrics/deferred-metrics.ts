import { Counter, Gauge, Histogram, type LabelValues, type MetricType, type Registry } from 'prom-client';

/*
 * prom-client hashes the label object, validates it and allocates on every inc() and observe(), which at tens of
 * thousands of requests per second was a measurable share of a request. The metrics here are prom-client metrics
 * (registered, formatted and scraped as usual) whose observations are summed in plain numbers per label set and
 * handed over when /metrics is scraped. `series(labels)` gives a handle to keep; inc()/observe() keep their usual
 * signatures for the occasional caller.
 */

// prom-client's typings declare MetricType as a numeric enum that its JavaScript does not export; at run time a
// metric's type is the string the exposition format prints.
const HISTOGRAM = 'histogram' as unknown as MetricType;

interface MetricOptions<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  registry: Registry;
  /** Label sets exported at 0 from the start, so that rate() and absent() work before the first increment. */
  known?: readonly LabelValues<L>[];
}

/** The label set in the metric's declared label order, as prom-client prints it; an undeclared label throws, as there. */
function ordered(metric: string, labelNames: readonly string[], labels: LabelValues<string>): LabelValues<string> {
  for (const name of Object.keys(labels)) {
    if (!labelNames.includes(name)) throw new Error(`Added label "${name}" is not included in initial labelset: ${JSON.stringify(labelNames)} (${metric})`);
  }
  const out: LabelValues<string> = {};
  for (const name of labelNames) if (labels[name] !== undefined) out[name] = labels[name];
  return out;
}

function keyOf(labels: LabelValues<string> | undefined): string {
  if (labels === undefined) return '';
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}\u0000${String(labels[k])}`)
    .join('\u0001');
}

export class CounterSeries {
  pending = 0;
  constructor(readonly labels: LabelValues<string>) {}

  inc(value = 1): void {
    this.pending += value;
  }
}

/** A Counter whose increments are summed per label set and added to prom-client's at scrape time. */
export class DeferredCounter<L extends string = string> extends Counter<L> {
  private readonly byKey = new Map<string, CounterSeries>();
  private readonly all: CounterSeries[] = [];
  private readonly labelOrder: readonly string[];
  private readonly metricName: string;

  constructor(options: MetricOptions<L>) {
    let flush = () => {};
    super({ name: options.name, help: options.help, labelNames: options.labelNames ?? [], registers: [options.registry], collect: () => flush() });
    this.labelOrder = options.labelNames ?? [];
    this.metricName = options.name;
    // prom-client's constructor installs its own inc() on the instance; keep it for the hand-over, defer the rest.
    const add = this.inc.bind(this);
    flush = () => {
      for (const series of this.all) {
        if (series.pending === 0) continue;
        add(series.labels as LabelValues<L>, series.pending);
        series.pending = 0;
      }
    };
    for (const labels of options.known ?? []) add(labels, 0);
    // Exemplars are not enabled on these metrics, so the exemplar overload never applies.
    this.inc = ((labelsOrValue?: LabelValues<L> | number, value?: number) => {
      if (typeof labelsOrValue === 'number' || labelsOrValue === undefined) this.series().inc(labelsOrValue ?? 1);
      else this.series(labelsOrValue).inc(value ?? 1);
    }) as Counter<L>['inc'];
  }

  series(labels: LabelValues<L> = {}): CounterSeries {
    const key = keyOf(labels);
    let series = this.byKey.get(key);
    if (series === undefined) {
      series = new CounterSeries(ordered(this.metricName, this.labelOrder, labels));
      this.byKey.set(key, series);
      this.all.push(series);
    }
    return series;
  }
}

export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: LabelValues<string>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    // As prom-client does: a non-finite observation is a bug in the caller, not a value to count.
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    let bucket = 0;
    while (bucket < this.bounds.length && value > this.bounds[bucket]!) bucket++;
    this.counts[bucket]!++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Histogram that keeps its own bucket counts per label set and reports them in prom-client's export shape. Observe
 * through observe() or series(); prom-client's labels(), startTimer(), zero() and reset() write a store this one does
 * not report.
 */
export class DeferredHistogram<L extends string = string> extends Histogram<L> {
  private readonly byKey = new Map<string, HistogramSeries>();
  private readonly all: HistogramSeries[] = [];
  private readonly metricName: string;
  private readonly helpText: string;

  private readonly bounds: readonly number[];
  private readonly labelOrder: readonly string[];

  constructor(options: MetricOptions<L> & { buckets: readonly number[] }) {
    super({ name: options.name, help: options.help, labelNames: options.labelNames ?? [], buckets: [...options.buckets], registers: [options.registry] });
    this.metricName = options.name;
    this.helpText = options.help;
    this.bounds = options.buckets;
    this.labelOrder = options.labelNames ?? [];
    // prom-client's constructor installs its own observe() on the instance.
    this.observe = ((labelsOrValue: LabelValues<L> | number, value?: number) => {
      if (typeof labelsOrValue === 'number') this.series().observe(labelsOrValue);
      else this.series(labelsOrValue).observe(value ?? Number.NaN);
    }) as Histogram<L>['observe'];
  }

  series(labels: LabelValues<L> = {}): HistogramSeries {
    const key = keyOf(labels);
    let series = this.byKey.get(key);
    if (series === undefined) {
      series = new HistogramSeries(ordered(this.metricName, this.labelOrder, labels), this.bounds);
      this.byKey.set(key, series);
      this.all.push(series);
    }
    return series;
  }

  override async get(): ReturnType<Histogram<L>['get']> {
    const values: Awaited<ReturnType<Histogram<L>['get']>>['values'] = [];
    for (const series of this.all) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += series.counts[i]!;
        const labels: LabelValues<string> = { le: i < this.bounds.length ? this.bounds[i]! : '+Inf', ...series.labels };
        values.push({ labels, value: cumulative, metricName: `${this.metricName}_bucket` });
      }
      values.push({ labels: series.labels, value: series.sum, metricName: `${this.metricName}_sum` });
      values.push({ labels: series.labels, value: series.count, metricName: `${this.metricName}_count` });
    }
    return { name: this.metricName, help: this.helpText, type: HISTOGRAM, aggregator: 'sum', collect: () => undefined, values };
  }

  /** The registry prefers this to get() when present; prom-client's own would read its internal store, which stays empty. */
  getForPromString(): ReturnType<Histogram<L>['get']> {
    return this.get();
  }
}

/**
 * A Gauge read from its source when /metrics is scraped, for a value that changes per request or event (requests in
 * flight, open cases): setting it at every change would be work on the hot path for a number read every few seconds.
 * Reads 0 until its owner names the source, which may answer later (a promise) where the value must be asked for.
 */
export class ScrapedGauge extends Gauge {
  private source: () => number | Promise<number> = () => 0;

  constructor(options: { name: string; help: string; registry: Registry }) {
    let read = (): Promise<void> | void => {};
    super({ name: options.name, help: options.help, registers: [options.registry], collect: () => read() });
    read = () => {
      const value = this.source();
      if (typeof value === 'number') this.set(value);
      else return value.then((n) => this.set(n));
    };
  }

  readFrom(source: () => number | Promise<number>): void {
    this.source = source;
  }
}

/**
 * An enum as Prometheus has it: one series per state, 1 for the current one and 0 for the others, read at scrape time
 * from `readFrom`'s source (an alert on `{state="failed"} == 1` needs no rate()).
 */
export class ScrapedStateGauge<S extends string> extends Gauge<'state'> {
  private source: () => S | undefined = () => undefined;

  constructor(options: { name: string; help: string; states: readonly S[]; registry: Registry }) {
    let read = () => {};
    super({ name: options.name, help: options.help, labelNames: ['state'], registers: [options.registry], collect: () => read() });
    read = () => {
      const current = this.source();
      for (const state of options.states) this.set({ state }, state === current ? 1 : 0);
    };
  }

  readFrom(source: () => S): void {
    this.source = source;
  }
}

