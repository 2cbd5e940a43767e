/**
 * `npm run bench`: loads the service with autocannon (loopback only, bounded duration, pipelining 1: webhook callers
 * send one request per connection at a time) and, in the same run, a bare Fastify server answering a fixed JSON body
 * of the same size — the stack's ceiling on this machine. Prints one table (requests/s, p50, p99, server peak RSS,
 * ratio to the ceiling) and writes it as JSON under bench/out/. Each load runs in a fresh autocannon process.
 *
 * Options: --duration=S (default 5 per load), --runs=N (default 3 rounds; the table shows medians), --quick (fewer
 * connection counts).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { promisify } from 'node:util';
import type { LoadFigures, LoadRequest } from './load-child.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const BARE = join(ROOT, 'dist', 'bench', 'bare-server.js');
const LOAD = join(ROOT, 'dist', 'bench', 'load-child.js');
const DURATION = Number(process.argv.find((a) => a.startsWith('--duration='))?.split('=')[1] ?? 5);
const QUICK = process.argv.includes('--quick');
const RUNS = Number(process.argv.find((a) => a.startsWith('--runs='))?.split('=')[1] ?? 3);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be a whole number ≥ 1, got ${RUNS}`);
const MODELS = {
  default: join(ROOT, 'models', 'loan_approval', 'model.onnx'),
  scale_200: join(ROOT, 'test', 'fixtures', 'petra', 'scale_200', 'model.onnx'),
};

/**
 * Serve flags per bundle, as an operator would set them. scale_200 is a briefly trained benchmark net whose own
 * training traces score 75–95, so at the default alert threshold (0.5) every evaluation would be an alert.
 */
const SERVE_FLAGS: Record<string, string[]> = { default: [], scale_200: ['--alert-threshold', '100'] };

/** Node flags of `npm start` and the Docker image; the ceiling runs with the same, so the ratio compares like with like. */
const NODE_FLAGS = ['--single-threaded-gc'];

interface Server {
  child: ChildProcess;
  url: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The service at log level warn (request lines would measure pino, not scoring): ready when /readyz answers 200. */
async function startService(model: string, flags: string[]): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [...NODE_FLAGS, CLI, 'serve', model, '--port', String(port), '--log-level', 'warn', ...flags], { stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`service exited ${child.exitCode}`);
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ready) return { child, url };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('service did not become ready in 60 s');
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_FLAGS, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /(?:listening|Server listening at) (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) {
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolve({ child, url: match[1]! });
      }
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${out}`)));
  });
}

async function stop(server: Server): Promise<void> {
  server.child.removeAllListeners('exit');
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/** Peak resident set of the server process so far (Linux VmHWM). */
function peakRss(server: Server): number {
  const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

interface Row {
  scenario: string;
  target: string;
  connections: number;
  requestsPerSecond: number;
  itemsPerSecond?: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  peakRssBytes: number;
  ceilingRatio?: number;
}

type Body = () => string;

const scratch = mkdtempSync(join(tmpdir(), 'petrascore-bench-'));
let loads = 0;

/** Runs one load in a fresh autocannon process (see bench/load-child.ts), sending `requests` in turn. */
async function runLoad(server: Server, requests: LoadRequest[], connections: number): Promise<LoadFigures> {
  const file = join(scratch, `requests-${loads++}.json`);
  writeFileSync(file, JSON.stringify(requests));
  const { stdout } = await promisify(execFile)(process.execPath, [LOAD, server.url, file, String(connections), String(DURATION)], { maxBuffer: 1 << 20 });
  rmSync(file);
  return JSON.parse(stdout) as LoadFigures;
}

/** `count` bodies of the generator, all to `path`. */
function requestsOf(path: string, body: Body, count: number): LoadRequest[] {
  return Array.from({ length: count }, () => ({ path, body: body() }));
}

function random(): () => number {
  let a = 7;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function labelsOf(model: string): string[] {
  const sidecar = JSON.parse(readFileSync(`${model}.meta.json`, 'utf8')) as { output_transitions: string[]; transition_labels: Record<string, string> };
  return sidecar.output_transitions.map((t) => sidecar.transition_labels[t] ?? t);
}

/**
 * Realistic /anomaly bodies, as a workflow engine would send them: for a spread of markings the trace is what the
 * model expects (the labels of transitions with activation > 0.5, asked of the service's own /forward), and one trace
 * in twenty is anomalous (an expected event dropped or an unexpected one added).
 */
async function anomalyBodies(service: Server, model: string): Promise<Body> {
  const labels = labelsOf(model);
  const sidecar = JSON.parse(readFileSync(`${model}.meta.json`, 'utf8')) as { output_transitions: string[]; input_marking_places: string[] };
  const place = sidecar.input_marking_places[0]!;
  const rnd = random();
  const pool: string[] = [];
  for (let i = 0; i < 256; i++) {
    const input_marking = { [place]: Math.round(rnd() * 1000) / 1000 };
    const response = await fetch(`${service.url}/forward`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input_marking }) });
    const activations = ((await response.json()) as { transition_activations: Record<string, number> }).transition_activations;
    let events = sidecar.output_transitions.filter((t) => activations[t]! > 0.5).map((t) => labels[sidecar.output_transitions.indexOf(t)]!);
    if (i % 20 === 0) events = events.length > 1 && rnd() < 0.5 ? events.slice(1) : [...events, labels[Math.floor(rnd() * labels.length)]!];
    pool.push(JSON.stringify({ input_marking, events: events.map((name, k) => ({ name, attributes: { resource: `clerk-${k % 7}` } })), attributes: { channel: 'web', case: `C${i}` } }));
  }
  let i = 0;
  return () => pool[i++ % pool.length]!;
}

function batchBodies(one: Body, traces: number): Body {
  const bodies = Array.from({ length: 16 }, () => `{"traces":[${Array.from({ length: traces }, one).join(',')}]}`);
  let i = 0;
  return () => bodies[i++ % bodies.length]!;
}

/**
 * A workflow engine's event stream over 10,000 interleaved cases: each case has a risk score (the attribute the
 * default bundle's spec reads) and its events are the activities the model expects at that risk (asked of the
 * service's /forward), one event in twenty an unexpected activity instead — the same anomaly rate as the /anomaly
 * bodies. Requests pick a case at random, so cases grow and interleave.
 */
async function eventStream(service: Server, model: string): Promise<{ body: (caseIndex: number) => string; caseIndex: () => number }> {
  const labels = labelsOf(model);
  const sidecar = JSON.parse(readFileSync(`${model}.meta.json`, 'utf8')) as { output_transitions: string[]; input_marking_places: string[]; input_marking_spec: Record<string, { attribute?: string }> };
  const place = sidecar.input_marking_places[0]!;
  const attribute = sidecar.input_marking_spec[place]?.attribute ?? 'risk_score';
  const rnd = random();
  const risks = Array.from({ length: 100 }, (_, i) => (i + 0.5) / 100);
  const expected: string[][] = [];
  for (const risk of risks) {
    const response = await fetch(`${service.url}/forward`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input_marking: { [place]: risk } }) });
    const activations = ((await response.json()) as { transition_activations: Record<string, number> }).transition_activations;
    expected.push(sidecar.output_transitions.flatMap((t, i) => (activations[t]! > 0.5 ? [labels[i]!] : [])));
  }
  const caseRisk = Array.from({ length: 10_000 }, () => Math.floor(rnd() * risks.length));
  return {
    caseIndex: () => Math.floor(rnd() * caseRisk.length),
    body: (caseIndex) => {
      const r = caseRisk[caseIndex]!;
      const normal = expected[r]!;
      const name = normal.length === 0 || rnd() < 0.05 ? labels[Math.floor(rnd() * labels.length)]! : normal[Math.floor(rnd() * normal.length)]!;
      return JSON.stringify({ name, attributes: { [attribute]: String(risks[r]) } });
    },
  };
}

/** 50,000 requests of the event stream (the run cycles through them; cases keep growing). */
async function eventRequests(server: Server, scored: boolean): Promise<LoadRequest[]> {
  const stream = await eventStream(server, MODELS.default);
  return Array.from({ length: 50_000 }, () => {
    const caseIndex = stream.caseIndex();
    return { path: `/cases/case-${caseIndex}/events${scored ? '?score=true' : ''}`, body: stream.body(caseIndex) };
  });
}

function row(scenario: string, target: string, connections: number, result: LoadFigures, server: Server, items = 1): Row {
  const r: Row = { scenario, target, connections, ...result, peakRssBytes: peakRss(server) };
  if (items > 1) r.itemsPerSecond = result.requestsPerSecond * items;
  return r;
}

/**
 * One measurement of a scenario; with --runs=N each is taken N times, alternating ceiling and service, and the table
 * shows medians (the ratio is the median of the per-round ratios, each a service load beside the ceiling load just
 * before it). The machine is noisy: single loads of the same build here differ by ±10%.
 */
interface Measurement extends Row {
  round: number;
}

const measurements: Measurement[] = [];
const rows: Row[] = [];
const connectionCounts = QUICK ? [16, 128] : [1, 16, 128];
const print = (r: Row, prefix = '') =>
  console.log(
    `${prefix}${r.scenario.padEnd(34)} ${r.target.padEnd(10)} ${String(r.connections).padStart(5)} ${Math.round(r.requestsPerSecond).toLocaleString('en-US').padStart(10)} ${(r.itemsPerSecond ? Math.round(r.itemsPerSecond).toLocaleString('en-US') : '').padStart(11)} ${r.p50.toFixed(2).padStart(7)} ${r.p99.toFixed(2).padStart(7)} ${(r.peakRssBytes / 2 ** 20).toFixed(0).padStart(7)} ${r.ceilingRatio === undefined ? '' : `${(100 * r.ceilingRatio).toFixed(0)}%`.padStart(7)}${r.non2xx + r.errors > 0 ? `  (${r.non2xx} non-2xx, ${r.errors} errors)` : ''}`,
  );
const header = `${'scenario'.padEnd(34)} ${'bundle'.padEnd(10)} ${'conns'.padStart(5)} ${'req/s'.padStart(10)} ${'items/s'.padStart(11)} ${'p50'.padStart(7)} ${'p99'.padStart(7)} ${'RSS MB'.padStart(7)} ${'ceiling'.padStart(7)}`;

console.log(`petrascore HTTP benchmark — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
console.log(`autocannon, pipelining 1, ${DURATION} s per load, ${RUNS} round(s), loopback; latency in ms; ceiling = bare Fastify, fixed JSON body\n`);
console.log(`  ${header}`);

function record(m: Measurement): void {
  measurements.push(m);
  print(m, `${m.round} `);
}

for (const [bundle, model] of Object.entries(MODELS)) {
  const service = await startService(model, SERVE_FLAGS[bundle] ?? []);
  const bodies = await anomalyBodies(service, model);
  const sample = bodies();
  const fixed = await (await fetch(`${service.url}/anomaly`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: sample })).text();
  const bare = await start([BARE, '0', fixed]);
  const anomalyRequests = requestsOf('/anomaly', bodies, 256);
  const events = bundle === 'default' ? { unscored: await eventRequests(service, false), scored: await eventRequests(service, true) } : undefined;
  const batchRequests = bundle === 'default' ? requestsOf('/anomaly/batch', batchBodies(bodies, 256), 16) : undefined;
  for (let round = 1; round <= RUNS; round++) {
    const ceiling = new Map<number, number>();
    for (const connections of connectionCounts) {
      const b = row('bare Fastify, fixed body (ceiling)', bundle, connections, await runLoad(bare, anomalyRequests, connections), bare);
      ceiling.set(connections, b.requestsPerSecond);
      record({ ...b, round });
      const s = row('POST /anomaly', bundle, connections, await runLoad(service, anomalyRequests, connections), service);
      s.ceilingRatio = s.requestsPerSecond / b.requestsPerSecond;
      record({ ...s, round });
    }
    if (events !== undefined && batchRequests !== undefined) {
      for (const [kind, requests] of Object.entries(events)) {
        const e = row(`POST /cases/:id/events ${kind}`, bundle, 128, await runLoad(service, requests, 128), service);
        e.ceilingRatio = e.requestsPerSecond / (ceiling.get(128) ?? Number.NaN);
        record({ ...e, round });
      }
      record({ ...row('POST /anomaly/batch (256 traces)', bundle, 16, await runLoad(service, batchRequests, 16), service, 256), round });
    }
  }
  await stop(bare);
  await stop(service);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Medians per scenario, bundle and connection count, in the order first measured. */
for (const m of measurements) {
  if (m.round !== 1) continue;
  const same = measurements.filter((o) => o.scenario === m.scenario && o.target === m.target && o.connections === m.connections);
  const ratios = same.flatMap((o) => (o.ceilingRatio === undefined ? [] : [o.ceilingRatio]));
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
    ...(ratios.length > 0 ? { ceilingRatio: median(ratios) } : {}),
  });
}
if (RUNS > 1) {
  console.log(`\nmedians of ${RUNS} rounds (peak RSS: the largest; ceiling: the median of the per-round ratios)\n`);
  console.log(`  ${header}`);
  for (const r of rows) print(r, '  ');
}

rmSync(scratch, { recursive: true, force: true });
mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
const out = join(ROOT, 'bench', 'out', `http-${new Date().toISOString().replaceAll(':', '-')}.json`);
writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, durationSeconds: DURATION, runs: RUNS, rows, measurements }, null, 2)}\n`);
console.log(`\nwrote ${out}`);
