import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { EVICTION_REASONS } from '../src/cases/case-store.js';
import { BUS_EVENT_TYPES } from '../src/live/events.js';
import { ONNXRUNTIME_VERSION, PETRASCORE_VERSION } from '../src/version.js';
import { testApp } from './helpers/app.js';
import { DEFAULT_MODEL } from './helpers/fixtures.js';

function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

/** The finite `le` edges of a histogram's buckets for one label set (`rest`: its other labels, as printed after le). */
function edges(text: string, name: string, rest = ''): number[] {
  const pattern = new RegExp(`^${name}_bucket\\{le="([^"]+)"${rest === '' ? '' : `,${rest}`}\\} `);
  return text
    .split('\n')
    .map((l) => pattern.exec(l)?.[1])
    .filter((le): le is string => le !== undefined && le !== '+Inf')
    .map(Number);
}

describe('GET /metrics', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ maxOpenCases: 2 });
  });
  afterAll(async () => app.close());

  it('counts requests per route and status, inference runs and rows, open cases and evictions', async () => {
    await Promise.all(Array.from({ length: 5 }, () => app.inject({ method: 'POST', url: '/anomaly', payload: { input_marking: {}, events: [] } })));
    await app.inject({ method: 'POST', url: '/anomaly', payload: { events: 'nope' } });
    for (const id of ['a', 'b', 'c']) await app.inject({ method: 'POST', url: `/cases/${id}/events`, payload: { name: 'approve loan' } });

    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/plain/);
    const text = response.body;
    expect(sample(text, 'petrascore_http_requests_total', '{method="POST",route="/anomaly",status="200"}')).toBe(5);
    expect(sample(text, 'petrascore_http_requests_total', '{method="POST",route="/anomaly",status="400"}')).toBe(1);
    expect(sample(text, 'petrascore_http_requests_total', '{method="POST",route="/cases/:id/events",status="202"}')).toBe(3);
    const anomalyOk = '{method="POST",route="/anomaly",status="200"}';
    expect(sample(text, 'petrascore_http_request_duration_seconds_count', anomalyOk)).toBe(5);
    expect(sample(text, 'petrascore_http_request_duration_seconds_sum', anomalyOk)).toBeGreaterThan(0);
    expect(sample(text, 'petrascore_http_request_duration_seconds_bucket', '{le="+Inf",method="POST",route="/anomaly",status="200"}')).toBe(5);
    // Cumulative buckets: never decreasing, and the 2.5 s bucket holds every one of these fast requests.
    const les = edges(text, 'petrascore_http_request_duration_seconds', 'method="POST",route="/anomaly",status="200"');
    expect(les).toContain(2.5);
    const buckets = les.map((le) => sample(text, 'petrascore_http_request_duration_seconds_bucket', `{le="${le}",method="POST",route="/anomaly",status="200"}`)!);
    expect(buckets.every((count, i) => i === 0 || count >= buckets[i - 1]!)).toBe(true);
    expect(sample(text, 'petrascore_http_request_duration_seconds_bucket', '{le="2.5",method="POST",route="/anomaly",status="200"}')).toBe(5);
    const runs = sample(text, 'petrascore_inference_runs_total')!;
    // Five concurrent requests share runs: at least one, at most five (plus none for the unscored events).
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(runs).toBeLessThanOrEqual(5);
    expect(sample(text, 'petrascore_inference_batch_rows_sum')).toBe(5);
    // One queue-wait observation per caller, however many runs they shared.
    expect(sample(text, 'petrascore_inference_queue_wait_seconds_count')).toBe(5);
    expect(sample(text, 'petrascore_open_cases')).toBe(2);
    expect(sample(text, 'petrascore_case_evictions_total', '{reason="capacity"}')).toBe(1);
    expect(text).toMatch(/^petrascore_process_resident_memory_bytes /m);
  });

  it('exports every outcome of the labelled counters at 0 before the first one, so rate() and absent() work', async () => {
    // No stats ticker: nothing is published before the scrape.
    const fresh = await testApp({ liveStatsIntervalMs: 0 });
    try {
      const text = (await fresh.inject({ method: 'GET', url: '/metrics' })).body;
      for (const reason of EVICTION_REASONS) expect(sample(text, 'petrascore_case_evictions_total', `{reason="${reason}"}`)).toBe(0);
      for (const reason of ['client_closed', 'overflow', 'shutdown']) expect(sample(text, 'petrascore_live_disconnects_total', `{reason="${reason}"}`)).toBe(0);
      // Webhooks have series once configured, one per URL (test/live/webhook.test.ts).
      expect(text).not.toMatch(/^petrascore_alert_webhook_deliveries_total\{/m);
      for (const type of BUS_EVENT_TYPES) {
        expect(sample(text, 'petrascore_live_events_published_total', `{type="${type}"}`)).toBe(0);
        expect(sample(text, 'petrascore_live_events_dropped_total', `{type="${type}"}`)).toBe(0);
      }
    } finally {
      await fresh.close();
    }
  });

  it('exports the versions, the bundle served, the configured limits and the service state', async () => {
    const fresh = await testApp({ inferenceThread: 'main', maxOpenCases: 7, maxAttributeChars: 5_000_000, liveMaxSubscribers: 3, maxBatchRows: 512 });
    try {
      const text = (await fresh.inject({ method: 'GET', url: '/metrics' })).body;
      expect(sample(text, 'petrascore_build_info', `{version="${PETRASCORE_VERSION}",node_version="${process.version}",onnxruntime_version="${ONNXRUNTIME_VERSION}"}`)).toBe(1);
      const sidecar = JSON.parse(readFileSync(`${DEFAULT_MODEL}.meta.json`, 'utf8')) as { scenario_name: string; opset: number; petra_version: string; output_transitions: unknown[] };
      const sha = createHash('sha256').update(readFileSync(DEFAULT_MODEL)).digest('hex');
      const modelLabels = `{scenario="${sidecar.scenario_name}",opset="${sidecar.opset}",petra_version="${sidecar.petra_version}",model_sha256="${sha.slice(0, 12)}",inference_thread="main"}`;
      expect(sample(text, 'petrascore_model_info', modelLabels)).toBe(1);
      // One series each: an info metric with two label sets would double every join on it.
      expect(text.split('\n').filter((l) => /^petrascore_(build|model)_info\{/.test(l))).toHaveLength(2);
      expect(sample(text, 'petrascore_model_scored_transitions')).toBe(sidecar.output_transitions.length);
      expect(sample(text, 'petrascore_max_open_cases')).toBe(7);
      expect(sample(text, 'petrascore_max_case_attribute_chars')).toBe(5_000_000);
      expect(sample(text, 'petrascore_live_max_subscribers')).toBe(3);
      expect(sample(text, 'petrascore_inference_max_batch_rows')).toBe(512);
      const states = (scraped: string) => Object.fromEntries(['starting', 'ready', 'draining', 'failed'].map((state) => [state, sample(scraped, 'petrascore_service_state', `{state="${state}"}`)]));
      expect(states(text)).toEqual({ starting: 0, ready: 1, draining: 0, failed: 0 });
      fresh.beginDraining();
      expect(states((await fresh.inject({ method: 'GET', url: '/metrics' })).body)).toEqual({ starting: 0, ready: 0, draining: 1, failed: 0 });
    } finally {
      await fresh.close();
    }
  });

  it('counts a slow request, run, queue wait and a full batch of 65,536 rows in finite buckets (histogram_quantile needs one above them)', async () => {
    const fresh = await testApp();
    try {
      // What a large bundle produces (scale_2000: /anomaly/batch requests of tens of seconds), observed where the service
      // observes it, rather than waited for.
      fresh.metrics.http.forRoute('/anomaly/batch').record('POST', 200, 45);
      fresh.metrics.inferenceSeconds.observe(7);
      fresh.metrics.inferenceQueueWait.observe(7);
      fresh.metrics.inferenceRows.observe(65_536);
      const text = (await fresh.inject({ method: 'GET', url: '/metrics' })).body;
      const batch = 'method="POST",route="/anomaly/batch",status="200"';
      const cases: [name: string, rest: string, below: number, at: number, top: number][] = [
        ['petrascore_http_request_duration_seconds', batch, 30, 60, 60],
        ['petrascore_inference_duration_seconds', '', 5, 10, 10],
        ['petrascore_inference_queue_wait_seconds', '', 5, 10, 10],
        ['petrascore_inference_batch_rows', '', 32_768, 65_536, 65_536],
      ];
      for (const [name, rest, below, at, top] of cases) {
        const les = edges(text, name, rest);
        expect(les.at(-1), name).toBe(top);
        // The fine end stays: sub-millisecond requests and runs of tens of microseconds still have buckets of their own.
        expect(les[0], name).toBeLessThanOrEqual(name.endsWith('_rows') ? 1 : 0.0005);
        const bucket = (le: number) => sample(text, `${name}_bucket`, `{le="${le}"${rest === '' ? '' : `,${rest}`}}`);
        const inf = sample(text, `${name}_bucket`, `{le="+Inf"${rest === '' ? '' : `,${rest}`}}`)!;
        // The observation is the last one counted: above `below`, within `at`.
        expect(bucket(at)! - bucket(below)!, name).toBe(1);
        expect(bucket(at), name).toBe(inf);
      }
    } finally {
      await fresh.close();
    }
  });

  it('echoes the request id and times every answer once, unknown routes as unmatched and HEAD under its GET route', async () => {
    const fresh = await testApp();
    try {
      const ok = await fresh.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'probe-1' } });
      expect(ok.headers['x-request-id']).toBe('probe-1');
      const head = await fresh.inject({ method: 'HEAD', url: '/healthz' });
      expect(head.statusCode).toBe(200);
      const missing = await fresh.inject({ method: 'POST', url: '/nowhere', headers: { 'x-request-id': 'lost-1' }, payload: {} });
      expect(missing.statusCode).toBe(404);
      expect(missing.headers['x-request-id']).toBe('lost-1');
      const wrongMethod = await fresh.inject({ method: 'DELETE', url: '/anomaly' });
      expect(wrongMethod.statusCode).toBe(405);
      expect(typeof wrongMethod.headers['x-request-id']).toBe('string');
      // An id too long, or with characters a header or log line should not carry, is replaced by one of the server's.
      for (const unfit of ['x'.repeat(129), 'two words', 'tab\there']) {
        const answered = await fresh.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': unfit } });
        expect(answered.headers['x-request-id']).toMatch(/^req-[0-9a-z]+$/);
      }
      expect((await fresh.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'y'.repeat(128) } })).headers['x-request-id']).toBe('y'.repeat(128));

      const text = (await fresh.inject({ method: 'GET', url: '/metrics' })).body;
      expect(sample(text, 'petrascore_http_requests_total', '{method="GET",route="/healthz",status="200"}')).toBe(5);
      expect(sample(text, 'petrascore_http_requests_total', '{method="HEAD",route="/healthz",status="200"}')).toBe(1);
      expect(sample(text, 'petrascore_http_requests_total', '{method="POST",route="unmatched",status="404"}')).toBe(1);
      expect(sample(text, 'petrascore_http_requests_total', '{method="DELETE",route="unmatched",status="405"}')).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it('counts a URL refused before routing (bad percent-encoding) as unmatched, with its error class', async () => {
    const fresh = await testApp();
    try {
      const bad = await fresh.inject({ method: 'POST', url: '/cases/%FF/events', headers: { 'x-request-id': 'bad-1' }, payload: { name: 'x' } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json<{ error: string }>().error).toBe('bad_url');
      expect(bad.json<{ details: unknown[] }>().details).toEqual([{ path: 'url', message: 'not valid percent-encoding' }]);
      expect(bad.headers['x-request-id']).toBe('bad-1');
      const text = (await fresh.inject({ method: 'GET', url: '/metrics' })).body;
      expect(sample(text, 'petrascore_http_requests_total', '{method="POST",route="unmatched",status="400"}')).toBe(1);
      expect(sample(text, 'petrascore_client_errors_total', '{error="bad_url"}')).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it('counts a /live stream when its client closes it, and as in flight while it is open', async () => {
    const fresh = await testApp();
    try {
      const url = await fresh.listen({ host: '127.0.0.1', port: 0 });
      const abort = new AbortController();
      const stream = await fetch(`${url}/live`, { signal: abort.signal });
      expect(stream.status).toBe(200);
      await stream.body!.getReader().read(); // the snapshot
      const scrape = async () => (await fresh.inject({ method: 'GET', url: '/metrics' })).body;
      const counted = async () => sample(await scrape(), 'petrascore_http_requests_total', '{method="GET",route="/live",status="200"}');
      expect(await counted()).toBeUndefined();
      // The stream, and the scrape itself.
      expect(sample(await scrape(), 'petrascore_http_requests_in_flight')).toBe(2);
      abort.abort();
      for (let i = 0; i < 100 && (await counted()) === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await counted()).toBe(1);
      expect(sample(await scrape(), 'petrascore_http_requests_in_flight')).toBe(1);
    } finally {
      await fresh.close();
    }
  });
});
