/**
 * `npm run bench`: loads the service with autocannon (loopback only, bounded duration, pipelining 1: webhook callers
 * send one request per connection at a time) and, in the same run, a bare Fastify server answering a fixed JSON body
 * of the same size — the stack's ceiling on this machine. Prints one table (requests/s, p50, p99, server peak RSS,
 * ratio to the ceiling) and writes it as JSON under bench/out/. Each load runs in a fresh autocannon process.
 *
 * Options: --duration=S (default 5 per load), --runs=N (default 3 rounds; the table shows medians), --quick (fewer
 * connection counts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import {
  anomalyBodies,
  BARE,
  batchBodies,
  cleanUp,
  eventRequests,
  median,
  MODELS,
  peakRss,
  requestsOf,
  ROOT,
  runLoad,
  SERVE_FLAGS,
  start,
  startService,
  stop,
  type Server,
} from './harness.js';
import type { LoadFigures, LoadRequest } from './load-child.js';
import { CEILING, checkTargets, type ResultRow, SAME_REQUESTS_CEILING } from './targets.js';

const DURATION = Number(process.argv.find((a) => a.startsWith('--duration='))?.split('=')[1] ?? 5);
const QUICK = process.argv.includes('--quick');
const RUNS = Number(process.argv.find((a) => a.startsWith('--runs='))?.split('=')[1] ?? 3);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be a whole number ≥ 1, got ${RUNS}`);

type Row = ResultRow;

function row(scenario: string, target: string, connections: number, result: LoadFigures, server: Server, items = 1): Row {
  const { requests, clientCpuMs, serverCpuMs, ...figures } = result;
  const perRequestUs = (ms: number) => (1000 * ms) / Math.max(1, requests);
  const r: Row = { scenario, target, connections, ...figures, peakRssBytes: peakRss(server), serverCpuUs: perRequestUs(serverCpuMs ?? Number.NaN), clientCpuUs: perRequestUs(clientCpuMs) };
  if (items > 1) r.itemsPerSecond = result.requestsPerSecond * items;
  return r;
}

/**
 * One measurement of a scenario; with --runs=N each is taken N times, and the table shows medians. Every scenario with a
 * ratio has its own ceiling load just before or after it (the events scenarios too, which once shared the one taken
 * for /anomaly a minute earlier: the machine's speed drifts within a minute), and the ratio is the median of the
 * per-round ratios. The machine is noisy: single loads of the same build here differ by ±10%.
 */
interface Measurement extends Row {
  round: number;
}

const measurements: Measurement[] = [];
const rows: Row[] = [];
const connectionCounts = QUICK ? [16, 128] : [1, 16, 128];
const print = (r: Row, prefix = '') =>
  console.log(
    `${prefix}${r.scenario.padEnd(34)} ${r.target.padEnd(10)} ${String(r.connections).padStart(5)} ${Math.round(r.requestsPerSecond).toLocaleString('en-US').padStart(10)} ${(r.itemsPerSecond ? Math.round(r.itemsPerSecond).toLocaleString('en-US') : '').padStart(11)} ${r.p50.toFixed(2).padStart(7)} ${r.p99.toFixed(2).padStart(7)} ${(r.peakRssBytes / 2 ** 20).toFixed(0).padStart(7)} ${r.serverCpuUs.toFixed(0).padStart(7)} ${r.clientCpuUs.toFixed(0).padStart(7)} ${r.ceilingRatio === undefined ? '' : `${(100 * r.ceilingRatio).toFixed(0)}%`.padStart(7)}${r.non2xx + r.errors > 0 ? `  (${r.non2xx} non-2xx, ${r.errors} errors)` : ''}`,
  );
const header = `${'scenario'.padEnd(34)} ${'bundle'.padEnd(10)} ${'conns'.padStart(5)} ${'req/s'.padStart(10)} ${'items/s'.padStart(11)} ${'p50'.padStart(7)} ${'p99'.padStart(7)} ${'RSS MB'.padStart(7)} ${'srv µs'.padStart(7)} ${'gen µs'.padStart(7)} ${'ceiling'.padStart(7)}`;

console.log(`petrascore HTTP benchmark — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
console.log(`autocannon, pipelining 1, ${DURATION} s per load, ${RUNS} round(s), loopback; latency in ms; ceiling = bare Fastify, fixed JSON body\n`);
console.log(`  ${header}`);

function record(m: Measurement): void {
  measurements.push(m);
  print(m, `${m.round} `);
}

/** The thread each bundle's service chose at startup: the default bundle in a worker serves up to a sixth less. */
const inferenceThreads: Record<string, string> = {};
for (const [bundle, model] of Object.entries(MODELS)) {
  const service = await startService(model, SERVE_FLAGS[bundle] ?? []);
  inferenceThreads[bundle] = service.inferenceThread;
  console.log(`${bundle}: the service runs its model on the ${service.inferenceThread} thread (--inference-thread auto)`);
  const bodies = await anomalyBodies(service, model);
  const sample = bodies();
  const fixed = await (await fetch(`${service.url}/anomaly`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: sample })).text();
  const bare = await start([BARE, '0', fixed]);
  const anomalyRequests = requestsOf('/anomaly', bodies, 256);
  const events = bundle === 'default' ? { unscored: await eventRequests(service, false), scored: await eventRequests(service, true) } : undefined;
  // A bare server per events scenario, answering what its first request gets from the service (the size of its answers;
  // that case has one event more than the stream gave it, which changes nothing the loads measure).
  const sameRequestCeilings = new Map<LoadRequest[], Server>();
  for (const requests of Object.values(events ?? {})) {
    const answer = await (await fetch(`${service.url}${requests[0]!.path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: requests[0]!.body })).text();
    sameRequestCeilings.set(requests, await start([BARE, '0', answer]));
  }
  const batchRequests = bundle === 'default' ? requestsOf('/anomaly/batch', batchBodies(bodies, 256), 16) : undefined;
  /**
   * The service beside a ceiling load of its own: the ratio of two loads a few seconds apart, the ceiling first in odd
   * rounds and second in even ones, so that a machine slowing down (or speeding up) over a round favours neither. The
   * streamed events also have a ceiling loaded with their own requests (sameRequestsRatio in targets.ts), on the other
   * side of the service's load.
   */
  const besideCeiling = async (round: number, scenario: string, connections: number, requests: LoadRequest[]) => {
    const ceiling = async () => row(CEILING, bundle, connections, await runLoad(bare, anomalyRequests, connections, DURATION), bare);
    const served = async () => row(scenario, bundle, connections, await runLoad(service, requests, connections, DURATION), service);
    const sameServer = sameRequestCeilings.get(requests);
    const same = async () => (sameServer === undefined ? undefined : row(`${SAME_REQUESTS_CEILING} of ${scenario}`, bundle, connections, await runLoad(sameServer, requests, connections, DURATION), sameServer));
    let b: Row;
    let s: Row;
    let c: Row | undefined;
    if (round % 2 === 1) {
      b = await ceiling();
      s = await served();
      c = await same();
    } else {
      c = await same();
      s = await served();
      b = await ceiling();
    }
    s.ceilingRatio = s.requestsPerSecond / b.requestsPerSecond;
    if (c !== undefined) s.sameRequestsRatio = s.requestsPerSecond / c.requestsPerSecond;
    record({ ...b, round });
    if (c !== undefined) record({ ...c, round });
    record({ ...s, round });
  };
  for (let round = 1; round <= RUNS; round++) {
    for (const connections of connectionCounts) await besideCeiling(round, 'POST /anomaly', connections, anomalyRequests);
    if (events !== undefined && batchRequests !== undefined) {
      for (const [kind, requests] of Object.entries(events)) await besideCeiling(round, `POST /cases/:id/events ${kind}`, 128, requests);
      record({ ...row('POST /anomaly/batch (256 traces)', bundle, 16, await runLoad(service, batchRequests, 16, DURATION), service, 256), round });
    }
  }
  await stop(bare);
  for (const same of sameRequestCeilings.values()) await stop(same);
  await stop(service);
}

/** Medians per scenario, bundle and connection count, in the order first measured. */
for (const m of measurements) {
  if (m.round !== 1 || rows.some((r) => r.scenario === m.scenario && r.target === m.target && r.connections === m.connections)) continue;
  const same = measurements.filter((o) => o.scenario === m.scenario && o.target === m.target && o.connections === m.connections);
  const ratios = same.flatMap((o) => (o.ceilingRatio === undefined ? [] : [o.ceilingRatio]));
  const sameRequestsRatios = same.flatMap((o) => (o.sameRequestsRatio === undefined ? [] : [o.sameRequestsRatio]));
  const items = same.flatMap((o) => (o.itemsPerSecond === undefined ? [] : [o.itemsPerSecond]));
  rows.push({
    scenario: m.scenario,
    target: m.target,
    connections: m.connections,
    requestsPerSecond: median(same.map((o) => o.requestsPerSecond)),
    ...(items.length > 0 ? { itemsPerSecond: median(items) } : {}),
    p50: median(same.map((o) => o.p50)),
    p99: median(same.map((o) => o.p99)),
    non2xx: same.reduce((n, o) => n + o.non2xx, 0),
    errors: same.reduce((n, o) => n + o.errors, 0),
    peakRssBytes: Math.max(...same.map((o) => o.peakRssBytes)),
    serverCpuUs: median(same.map((o) => o.serverCpuUs)),
    clientCpuUs: median(same.map((o) => o.clientCpuUs)),
    ...(ratios.length > 0 ? { ceilingRatio: median(ratios) } : {}),
    ...(sameRequestsRatios.length > 0 ? { sameRequestsRatio: median(sameRequestsRatios) } : {}),
  });
}
for (const r of rows) {
  if (r.ceilingRatio === undefined) continue;
  const ceilings = measurements.filter((o) => o.scenario === CEILING && o.target === r.target && o.connections === r.connections);
  if (ceilings.length === 0) continue;
  r.ratioOfMedians = r.requestsPerSecond / median(ceilings.map((o) => o.requestsPerSecond));
  r.cpuRatio = median(ceilings.map((o) => o.serverCpuUs + o.clientCpuUs)) / (r.serverCpuUs + r.clientCpuUs);
}
if (RUNS > 1) {
  console.log(`\nmedians of ${RUNS} rounds (peak RSS: the largest; ceiling: the median of the per-round ratios)\n`);
  console.log(`  ${header}`);
  for (const r of rows) print(r, '  ');
  // The per-round ratio pairs each load with the ceiling load beside it; on a noisy machine which loads fall beside
  // which moves it by several points, so the ratio of the medians is printed as a second reading.
  console.log(`\nratio of the medians (service median over the median of every ceiling load at the same bundle and connections)\n`);
  for (const r of rows) {
    if (r.ratioOfMedians !== undefined) console.log(`  ${r.scenario.padEnd(34)} ${r.target.padEnd(10)} ${String(r.connections).padStart(5)} ${`${(100 * r.ratioOfMedians).toFixed(0)}%`.padStart(7)}`);
  }
}
// A third reading, from CPU time rather than requests per second: at 128 connections server and load generator keep
// both cores busy, so the ratio of their CPU time per request is the ratio of throughputs the machine allows (at 1 and
// 16 connections the cores idle between requests, and the CPU ratio bounds nothing).
console.log(`\nCPU time per request (medians; srv = server process, all threads; gen = load generator), and the ceiling's over the service's\n`);
for (const r of rows) {
  if (r.cpuRatio === undefined) continue;
  const ceiling = rows.find((o) => o.scenario === CEILING && o.target === r.target && o.connections === r.connections);
  const us = (row: Row | undefined) => (row === undefined ? '' : `${row.serverCpuUs.toFixed(0)} + ${row.clientCpuUs.toFixed(0)} µs`);
  console.log(`  ${r.scenario.padEnd(34)} ${r.target.padEnd(10)} ${String(r.connections).padStart(5)} ${us(r).padStart(14)}  ceiling ${us(ceiling).padStart(14)} ${`${(100 * r.cpuRatio).toFixed(0)}%`.padStart(7)}`);
}

if (rows.some((r) => r.sameRequestsRatio !== undefined)) {
  console.log(`\nstreamed events against a ceiling loaded with their own requests and answering their answers' size (median of the per-round ratios; not the targets' ceiling)\n`);
  for (const r of rows) {
    if (r.sameRequestsRatio !== undefined) console.log(`  ${r.scenario.padEnd(34)} ${r.target.padEnd(10)} ${String(r.connections).padStart(5)} ${`${(100 * r.sameRequestsRatio).toFixed(0)}%`.padStart(7)}`);
  }
}

console.log(`\nthe work order's targets (memory per open case: npm run bench:cases)\n`);
for (const check of checkTargets(rows)) console.log(`  ${check.met === undefined ? '-' : check.met ? 'met    ' : 'NOT MET'}  ${check.target.replaceAll('`', '')}: ${check.reading}`);

cleanUp();
mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
const out = join(ROOT, 'bench', 'out', `http-${new Date().toISOString().replaceAll(':', '-')}.json`);
writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, durationSeconds: DURATION, runs: RUNS, inferenceThreads, rows, measurements }, null, 2)}\n`);
console.log(`\nwrote ${out} (as the README's markdown: npm run bench:table)`);
