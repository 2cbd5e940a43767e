/**
 * `npm run bench:ab -- A B`: one load scenario against two built checkouts of petrascore, in alternating pairs (A then
 * B, then B then A, …), every service a fresh process and every load a fresh autocannon process. Prints each pair and
 * the median of the B/A ratios. Single loads of one build differ by ±10% on this machine, so a change of a few percent
 * shows only in several pairs taken side by side, not in two benchmark runs taken apart.
 *
 * A and B are project folders with dependencies installed and built (`npm ci && npm run build`), for instance a
 * `git worktree add ../petrascore-base HEAD~1` beside this one. Both serve this checkout's copy of the bundle, with
 * this checkout's node flags (its package.json start script): a change of flags is compared with --node-a/--node-b.
 *
 * With --together, both services stay up for the whole run and each pair loads them at the same time, each with its own
 * load generator. This machine's speed drifts by tens of percent within minutes (other tenants), and loads taken one
 * after the other see different machines; loads taken together see the same one. An A/A run gave pairs within
 * 0.88–1.12 together against 0.72–1.37 one after the other. The four processes share two cores, so a difference shows
 * about half as large as it is alone: read the ratio's direction and consistency, not its size. Both services are
 * restarted every --restart-every pairs (default 4), spawned in the other order each time: with one pair of processes
 * for a whole run, an ablation once read 1.080× with B ahead in 12 of 12 pairs, and 0.989× (4 of 12) on a repeat — an
 * advantage of one process's placement, carried through every pair. The medians per block of fresh processes show it.
 *
 * Options: --scenario=anomaly|events|events-unscored|batch (default anomaly), --bundle=default|scale_200 (default
 * default), --connections=N (default 128, batch 16), --pairs=N (default 4), --duration=S (default 5 per load),
 * --together, --restart-every=N (with --together), --node-a=PATH and --node-b=PATH (the node binary that runs each side's
 * service, default this one: the same checkout twice with two binaries compares Node.js versions).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { anomalyBodies, batchBodies, cleanUp, eventRequests, median, MODELS, requestsOf, ROOT, runLoad, SERVE_FLAGS, type Service, startService, stop } from './harness.js';
import type { LoadFigures, LoadRequest } from './load-child.js';

const SCENARIOS = ['anomaly', 'events', 'events-unscored', 'batch'] as const;
type Scenario = (typeof SCENARIOS)[number];

/** A usage mistake: one line, exit code 2. */
function fail(message: string): never {
  process.stderr.write(`bench:ab: ${message}\n`);
  process.exit(2);
}

function option(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
}

function wholeNumber(name: string, fallback: number): number {
  const value = Number(option(name) ?? fallback);
  if (!Number.isInteger(value) || value < 1) fail(`--${name} must be a whole number ≥ 1, got ${option(name)}`);
  return value;
}

const [a, b] = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
if (a === undefined || b === undefined) fail('usage: npm run bench:ab -- <checkout A> <checkout B> [--scenario=…] [--bundle=…] [--connections=N] [--pairs=N] [--duration=S] [--together]');
const checkouts = [resolve(a), resolve(b)] as const;
for (const dir of checkouts) {
  if (!existsSync(join(dir, 'dist', 'src', 'cli', 'main.js'))) fail(`${dir}: no dist/src/cli/main.js — run npm ci && npm run build there first`);
}
const scenario = (option('scenario') ?? 'anomaly') as Scenario;
if (!SCENARIOS.includes(scenario)) fail(`--scenario must be one of ${SCENARIOS.join(', ')}`);
const bundle = option('bundle') ?? 'default';
if (!(bundle in MODELS)) fail(`--bundle must be one of ${Object.keys(MODELS).join(', ')}`);
const model = MODELS[bundle as keyof typeof MODELS];
const flags = SERVE_FLAGS[bundle] ?? [];
const connections = wholeNumber('connections', scenario === 'batch' ? 16 : 128);
const pairs = wholeNumber('pairs', 4);
const duration = wholeNumber('duration', 5);
const restartEvery = wholeNumber('restart-every', 4);
const cli = (dir: string) => join(dir, 'dist', 'src', 'cli', 'main.js');
const nodes = [option('node-a') ?? process.execPath, option('node-b') ?? process.execPath] as const;
for (const node of nodes) if (!existsSync(node)) fail(`${node}: no such node binary`);
type Side = 0 | 1;
const serve = (side: Side) => startService(model, flags, cli(checkouts[side]), nodes[side]);

/** The scenario's requests, asked of checkout A's service (the bodies depend on the model, not on the build). */
async function requests(): Promise<LoadRequest[]> {
  const service = await serve(0);
  try {
    if (scenario === 'events' || scenario === 'events-unscored') return await eventRequests(service, scenario === 'events', model);
    const bodies = await anomalyBodies(service, model);
    return scenario === 'batch' ? requestsOf('/anomaly/batch', batchBodies(bodies, 256), 16) : requestsOf('/anomaly', bodies, 256);
  } finally {
    await stop(service);
  }
}

/** Per side, how many of its services ran the model on each thread (auto chooses at every start). */
const threadsSeen: [Map<string, number>, Map<string, number>] = [new Map(), new Map()];
async function serveCounted(side: Side): Promise<Service> {
  const service = await serve(side);
  threadsSeen[side].set(service.inferenceThread, (threadsSeen[side].get(service.inferenceThread) ?? 0) + 1);
  return service;
}

async function measure(side: Side, load: LoadRequest[]): Promise<LoadFigures> {
  const service = await serveCounted(side);
  try {
    return await runLoad(service, load, connections, duration);
  } finally {
    await stop(service);
  }
}

/** One pair: A then B (or B then A), each in a fresh process. */
async function pairApart(pair: number, load: LoadRequest[]): Promise<[LoadFigures, LoadFigures]> {
  if (pair % 2 === 1) {
    const a = await measure(0, load);
    return [a, await measure(1, load)];
  }
  const b = await measure(1, load);
  return [await measure(0, load), b];
}

/** Both services started and warmed (B spawned first when `bFirst`); `pair()` then loads them at the same time. */
async function together(load: LoadRequest[], bFirst: boolean): Promise<{ pair: () => Promise<[LoadFigures, LoadFigures]>; stop: () => Promise<void> }> {
  const order: Side[] = bFirst ? [1, 0] : [0, 1];
  const started = await Promise.all(order.map((side) => serveCounted(side)));
  const services = bFirst ? [started[1]!, started[0]!] : started;
  await Promise.all(services.map((service) => runLoad(service, load, connections, 2)));
  return {
    pair: async () => (await Promise.all(services.map((service) => runLoad(service, load, connections, duration)))) as [LoadFigures, LoadFigures],
    stop: async () => {
      await Promise.all(services.map((service) => stop(service)));
    },
  };
}

const load = await requests();
console.log(`petrascore A/B — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
const isTogether = process.argv.includes('--together');
let concurrent: Awaited<ReturnType<typeof together>> | undefined;
console.log(`${scenario} on ${bundle}, ${connections} connections, ${duration} s per load, ${pairs} pairs ${isTogether ? `loaded together, fresh services every ${restartEvery} pairs` : 'in alternating order'}`);
console.log(`A ${checkouts[0]} (${nodes[0]})\nB ${checkouts[1]} (${nodes[1]})\n`);
console.log(`${'pair'.padStart(4)} ${'A req/s'.padStart(10)} ${'A p99'.padStart(6)} ${'B req/s'.padStart(10)} ${'B p99'.padStart(6)} ${'B/A'.padStart(6)}`);
const results: { a: LoadFigures; b: LoadFigures; ratio: number }[] = [];
for (let pair = 1; pair <= pairs; pair++) {
  if (isTogether && (pair - 1) % restartEvery === 0) {
    await concurrent?.stop();
    concurrent = await together(load, Math.floor((pair - 1) / restartEvery) % 2 === 1);
  }
  const [fa, fb] = concurrent !== undefined ? await concurrent.pair() : await pairApart(pair, load);
  const ratio = fb.requestsPerSecond / fa.requestsPerSecond;
  results.push({ a: fa, b: fb, ratio });
  const errors = fa.non2xx + fa.errors + fb.non2xx + fb.errors;
  console.log(
    `${String(pair).padStart(4)} ${Math.round(fa.requestsPerSecond).toLocaleString('en-US').padStart(10)} ${String(fa.p99).padStart(6)} ${Math.round(fb.requestsPerSecond).toLocaleString('en-US').padStart(10)} ${String(fb.p99).padStart(6)} ${ratio.toFixed(3).padStart(6)}${errors > 0 ? `  (${errors} non-2xx or errors)` : ''}`,
  );
}
await concurrent?.stop();
const ratios = results.map((r) => r.ratio);
console.log(
  `\nmedian: A ${Math.round(median(results.map((r) => r.a.requestsPerSecond))).toLocaleString('en-US')} req/s, B ${Math.round(median(results.map((r) => r.b.requestsPerSecond))).toLocaleString('en-US')} req/s; ` +
    `B/A ${median(ratios).toFixed(3)} (pairs ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}, B ahead in ${ratios.filter((r) => r > 1).length} of ${pairs})`,
);
const threads = (side: Side) => [...threadsSeen[side]].map(([thread, starts]) => `${thread} ×${starts}`).join(', ');
console.log(`inference thread of each measured start: A ${threads(0)}; B ${threads(1)}`);
if (isTogether && pairs > restartEvery) {
  const blocks: string[] = [];
  for (let start = 0; start < pairs; start += restartEvery) blocks.push(median(ratios.slice(start, start + restartEvery)).toFixed(3));
  console.log(`B/A per block of fresh services: ${blocks.join(', ')}`);
}
cleanUp();
mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
const out = join(ROOT, 'bench', 'out', `ab-${new Date().toISOString().replaceAll(':', '-')}.json`);
writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), cpu: cpus()[0]?.model, node: process.version, scenario, bundle, connections, durationSeconds: duration, together: isTogether, restartEvery: isTogether ? restartEvery : undefined, checkouts, nodes, inferenceThreads: threadsSeen.map((seen) => Object.fromEntries(seen)), results }, null, 2)}\n`);
console.log(`wrote ${out}`);
