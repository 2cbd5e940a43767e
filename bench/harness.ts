/**
 * What the HTTP benchmarks share: starting the service (or any built checkout's) and the bare ceiling, one load per
 * fresh autocannon process, and the realistic request bodies.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { LoadFigures, LoadRequest } from './load-child.js';
import { startScriptNodeFlags } from './node-flags.js';
import { seededRandom } from './seeded-random.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
export const BARE = join(ROOT, 'dist', 'bench', 'bare-server.js');
const LOAD = join(ROOT, 'dist', 'bench', 'load-child.js');
export const MODELS = {
  default: join(ROOT, 'models', 'loan_approval', 'model.onnx'),
  scale_200: join(ROOT, 'test', 'fixtures', 'petra', 'scale_200', 'model.onnx'),
};

/**
 * Serve flags per bundle, as an operator would set them. scale_200 is a briefly trained benchmark net whose own
 * training traces score 75–95, so at the default alert threshold (0.5) every evaluation would be an alert.
 */
export const SERVE_FLAGS: Record<string, string[]> = { default: [], scale_200: ['--alert-threshold', '100'] };

/**
 * Node flags of `npm start` (and the Docker image, which a test keeps equal), read from package.json's start script;
 * the ceiling runs with the same, so the ratio compares like with like.
 */
export const NODE_FLAGS = startScriptNodeFlags(ROOT);

export interface Server {
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

/** A petrascore service, with the thread its `--inference-thread auto` chose at startup (main or worker). */
export interface Service extends Server {
  inferenceThread: string;
}

/**
 * Which thread the service runs its model on, from petrascore_model_info: a run whose default bundle went to a worker
 * serves up to a sixth less, and the choice is made by timing at each start.
 */
async function inferenceThreadOf(url: string): Promise<string> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  return /^petrascore_model_info\{[^}]*inference_thread="(\w+)"/m.exec(metrics)?.[1] ?? 'unknown';
}

/** The service at log level warn (request lines would measure pino, not scoring): ready when /readyz answers 200. */
export async function startService(model: string, flags: string[], cli = CLI, node = process.execPath): Promise<Service> {
  const port = await freePort();
  const child = spawn(node, [...NODE_FLAGS, cli, 'serve', model, '--port', String(port), '--log-level', 'warn', ...flags], { stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`service exited ${child.exitCode}`);
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ready) return { child, url, inferenceThread: await inferenceThreadOf(url) };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('service did not become ready in 60 s');
}

export function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Server> {
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

export async function stop(server: Server): Promise<void> {
  server.child.removeAllListeners('exit');
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/** Peak resident set of the server process so far (Linux VmHWM). */
export function peakRss(server: Server): number {
  const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

export type Body = () => string;

let scratch: string | undefined;
let loads = 0;

/** Removes the request files' folder (call once, at the end). */
export function cleanUp(): void {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
}

/** Runs one load in a fresh autocannon process (see bench/load-child.ts), sending `requests` in turn. */
export async function runLoad(server: Server, requests: LoadRequest[], connections: number, durationSeconds: number): Promise<LoadFigures> {
  scratch ??= mkdtempSync(join(tmpdir(), 'petrascore-bench-'));
  const file = join(scratch, `requests-${loads++}.json`);
  writeFileSync(file, JSON.stringify(requests));
  const { stdout } = await promisify(execFile)(process.execPath, [LOAD, server.url, file, String(connections), String(durationSeconds), String(server.child.pid)], { maxBuffer: 1 << 20 });
  rmSync(file);
  return JSON.parse(stdout) as LoadFigures;
}

/** `count` bodies of the generator, all to `path`. */
export function requestsOf(path: string, body: Body, count: number): LoadRequest[] {
  return Array.from({ length: count }, () => ({ path, body: body() }));
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
export async function anomalyBodies(service: Server, model: string): Promise<Body> {
  const labels = labelsOf(model);
  const sidecar = JSON.parse(readFileSync(`${model}.meta.json`, 'utf8')) as { output_transitions: string[]; input_marking_places: string[] };
  const place = sidecar.input_marking_places[0]!;
  const rnd = seededRandom(7);
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

export function batchBodies(one: Body, traces: number): Body {
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
  const rnd = seededRandom(7);
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
export async function eventRequests(server: Server, scored: boolean, model = MODELS.default): Promise<LoadRequest[]> {
  const stream = await eventStream(server, model);
  return Array.from({ length: 50_000 }, () => {
    const caseIndex = stream.caseIndex();
    return { path: `/cases/case-${caseIndex}/events${scored ? '?score=true' : ''}`, body: stream.body(caseIndex) };
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
