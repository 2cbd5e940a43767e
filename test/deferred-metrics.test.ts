import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DeferredCounter, DeferredHistogram, ScrapedGauge } from '../src/metrics/deferred-metrics.js';

/** The deferred metrics must scrape exactly as prom-client's own would after the same observations. */
describe('deferred metrics', () => {
  const buckets = [0.001, 0.01, 0.1, 1];

  it('a scrape reads the same text as prom-client metrics fed the same observations, scrape after scrape', async () => {
    const plain = new Registry();
    const deferred = new Registry();
    const pc = new Counter({ name: 'c_total', help: 'counter', labelNames: ['kind'], registers: [plain] });
    const pu = new Counter({ name: 'u_total', help: 'unlabelled', registers: [plain] });
    const ph = new Histogram({ name: 'h_seconds', help: 'histogram', labelNames: ['route', 'status'], buckets, registers: [plain] });
    const pn = new Histogram({ name: 'n_rows', help: 'unlabelled histogram', buckets, registers: [plain] });
    const dc = new DeferredCounter({ name: 'c_total', help: 'counter', labelNames: ['kind'], registry: deferred });
    const du = new DeferredCounter({ name: 'u_total', help: 'unlabelled', registry: deferred });
    const dh = new DeferredHistogram({ name: 'h_seconds', help: 'histogram', labelNames: ['route', 'status'], buckets, registry: deferred });
    const dn = new DeferredHistogram({ name: 'n_rows', help: 'unlabelled histogram', buckets, registry: deferred });
    const handle = dh.series({ route: '/a', status: '200' });
    let seed = 11;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 500; i++) {
        const kind = ['x', 'y', 'z'][i % 3]!;
        const value = random() ** 3 * 2;
        pc.inc({ kind }, i % 4);
        dc.inc({ kind }, i % 4);
        pu.inc();
        du.inc();
        ph.observe({ route: '/a', status: '200' }, value);
        if (i % 2 === 0) handle.observe(value);
        else dh.observe({ route: '/a', status: '200' }, value);
        ph.observe({ route: '/b', status: '404' }, value / 10);
        dh.observe({ status: '404', route: '/b' }, value / 10);
        pn.observe(buckets[i % 4]!);
        dn.observe(buckets[i % 4]!);
      }
      expect(await deferred.metrics()).toBe(await plain.metrics());
    }
    // The JSON form too, on what it carries (prom-client adds internals such as `exemplar` and `collect`).
    const essentials = async (registry: Registry) =>
      (await registry.getMetricsAsJSON()).map((m) => ({ name: m.name, help: m.help, type: m.type, values: m.values.map((v) => ({ labels: v.labels, value: v.value, metricName: 'metricName' in v ? v.metricName : undefined })) }));
    expect(await essentials(deferred)).toEqual(await essentials(plain));
  });

  it('refuses a label the metric did not declare, as prom-client does', () => {
    const registry = new Registry();
    const counter = new DeferredCounter({ name: 'c_total', help: 'c', labelNames: ['kind'], registry });
    const histogram = new DeferredHistogram({ name: 'h_seconds', help: 'h', labelNames: ['route'], buckets, registry });
    expect(() => counter.inc({ kind: 'x', other: 'y' } as never)).toThrow(/not included in initial labelset/);
    expect(() => histogram.observe({ status: '200' } as never, 1)).toThrow(/not included in initial labelset/);
  });

  it('exports known label sets at 0 before the first increment', async () => {
    const registry = new Registry();
    const counter = new DeferredCounter({ name: 'c_total', help: 'c', labelNames: ['kind'], registry, known: [{ kind: 'a' }, { kind: 'b' }] });
    expect(await registry.metrics()).toMatch(/^c_total\{kind="a"\} 0\nc_total\{kind="b"\} 0$/m);
    counter.series({ kind: 'b' }).inc(3);
    expect(await registry.metrics()).toMatch(/^c_total\{kind="a"\} 0\nc_total\{kind="b"\} 3$/m);
  });

  it('a scraped gauge reads its source at each scrape, and 0 before it has one', async () => {
    const registry = new Registry();
    const gauge = new ScrapedGauge({ name: 'g', help: 'g', registry });
    expect(await registry.metrics()).toMatch(/^g 0$/m);
    let value = 4;
    gauge.readFrom(() => value);
    expect(await registry.metrics()).toMatch(/^g 4$/m);
    value = 2;
    expect(await registry.metrics()).toMatch(/^g 2$/m);
  });

  it('refuses a non-finite observation, as prom-client does', () => {
    const registry = new Registry();
    const plain = new Histogram({ name: 'p_seconds', help: 'h', buckets, registers: [registry] });
    const deferred = new DeferredHistogram({ name: 'd_seconds', help: 'h', buckets, registry });
    expect(() => plain.observe(Number.NaN)).toThrow(TypeError);
    expect(() => deferred.observe(Number.NaN)).toThrow(TypeError);
  });
});
