/**
 * `npm run bench:score`: generates logs of 100,000 traces for the default bundle and for scale_200, and prints traces
 * per second and peak RSS of `petrascore score` for CSV, XES and JSON, each beside the parse-only baseline measured in
 * the same run; then peak RSS of XES at 10× the traces (it should stay flat) and a batch-size sweep.
 * Results also go to bench/out/score-<timestamp>.json. Medians of `--runs` repetitions (default 3).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCsv, writeJson, writeXes, type LogShape } from './generate-logs.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHILD = join(ROOT, 'dist', 'bench', 'score-child.js');
const RUNS = Number(process.argv.find((a) => a.startsWith('--runs='))?.split('=')[1] ?? 3);
const TRACES = Number(process.argv.find((a) => a.startsWith('--traces='))?.split('=')[1] ?? 100_000);

const BUNDLES = {
  default: join(ROOT, 'models', 'loan_approval', 'model.onnx'),
  scale_200: join(ROOT, 'test', 'fixtures', 'petra', 'scale_200', 'model.onnx'),
};

interface Measure {
  seconds: number;
  maxRssBytes: number;
}

function runChild(args: string[]): Promise<Measure> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, ...args], { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${args.join(' ')}: ${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Measure);
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function measure(args: string[]): Promise<Measure> {
  const runs: Measure[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await runChild(args));
  return { seconds: median(runs.map((r) => r.seconds)), maxRssBytes: median(runs.map((r) => r.maxRssBytes)) };
}

function shapeOf(model: string): LogShape {
  const sidecar = JSON.parse(readFileSync(`${model}.meta.json`, 'utf8')) as {
    output_transitions: string[];
    transition_labels: Record<string, string>;
    input_marking_spec?: Record<string, { attribute?: string }>;
    input_values_spec?: Record<string, { attribute?: string }>;
  };
  const attributes = [...Object.values(sidecar.input_marking_spec ?? {}), ...Object.values(sidecar.input_values_spec ?? {})].flatMap((s) => (s.attribute ? [s.attribute] : []));
  return { labels: sidecar.output_transitions.map((t) => sidecar.transition_labels[t] ?? t), attributes };
}

const WRITERS = { csv: writeCsv, xes: writeXes, json: writeJson } as const;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const rate = (n: number, s: number) => Math.round(n / s).toLocaleString('en-US');

const dir = mkdtempSync(join(tmpdir(), 'petrascore-bench-'));
const rows: Record<string, unknown>[] = [];
try {
  console.log(`petrascore score benchmark — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
  console.log(`${TRACES.toLocaleString('en-US')} traces per log, median of ${RUNS} runs; baseline = reading the same log without scoring\n`);
  console.log('bundle     format  size MB  score traces/s  parse traces/s  score/parse  peak RSS MB (parse)');
  for (const [bundle, model] of Object.entries(BUNDLES)) {
    const shape = shapeOf(model);
    for (const [format, write] of Object.entries(WRITERS)) {
      const log = join(dir, `${bundle}.${format}`);
      await write(log, shape, TRACES);
      const scored = await measure(['score', model, log, '1024', '']);
      const parsed = await measure(['parse', model, log, '1024', '']);
      const size = statSync(log).size;
      rows.push({ bundle, format, traces: TRACES, bytes: size, score: scored, parse: parsed });
      console.log(
        `${bundle.padEnd(10)} ${format.padEnd(6)} ${mb(size).padStart(8)} ${rate(TRACES, scored.seconds).padStart(15)} ${rate(TRACES, parsed.seconds).padStart(15)} ${(parsed.seconds / scored.seconds).toFixed(2).padStart(12)} ${mb(scored.maxRssBytes).padStart(8)} (${mb(parsed.maxRssBytes)})`,
      );
      if (bundle === 'default' && format === 'csv') {
        const sortedRun = await measure(['score', model, log, '1024', 'sorted']);
        rows.push({ bundle, format: 'csv --sorted', traces: TRACES, score: sortedRun });
        console.log(`${bundle.padEnd(10)} ${'csv --sorted'.padEnd(15)} ${rate(TRACES, sortedRun.seconds).padStart(15)} ${''.padStart(15)} ${''.padStart(12)} ${mb(sortedRun.maxRssBytes).padStart(8)}`);
      }
      if (format !== 'xes') rmSync(log);
    }
  }

  console.log('\nXES peak RSS as the log grows 10× (default bundle)');
  const shape = shapeOf(BUNDLES.default);
  const big = join(dir, 'big.xes');
  await writeXes(big, shape, TRACES * 10);
  const small = await measure(['score', BUNDLES.default, join(dir, 'default.xes'), '1024', '']);
  const large = await measure(['score', BUNDLES.default, big, '1024', '']);
  rows.push({ xes_growth: { traces: [TRACES, TRACES * 10], maxRssBytes: [small.maxRssBytes, large.maxRssBytes], seconds: [small.seconds, large.seconds] } });
  console.log(`  ${TRACES.toLocaleString('en-US')} traces: ${mb(small.maxRssBytes)} MB, ${rate(TRACES, small.seconds)} traces/s`);
  console.log(`  ${(TRACES * 10).toLocaleString('en-US')} traces: ${mb(large.maxRssBytes)} MB, ${rate(TRACES * 10, large.seconds)} traces/s  (ratio ${(large.maxRssBytes / small.maxRssBytes).toFixed(2)})`);
  rmSync(big);

  console.log('\nbatch size sweep (default bundle, CSV)');
  const csv = join(dir, 'sweep.csv');
  await writeCsv(csv, shape, TRACES);
  for (const batch of ['1', '64', '256', '1024', '4096']) {
    const run = await measure(['score', BUNDLES.default, csv, batch, '']);
    rows.push({ sweep: { batch: Number(batch), seconds: run.seconds } });
    console.log(`  --batch-size ${batch.padEnd(5)} ${rate(TRACES, run.seconds).padStart(10)} traces/s`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
const out = join(ROOT, 'bench', 'out', `score-${new Date().toISOString().replaceAll(':', '-')}.json`);
writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, node: process.version, runs: RUNS, results: rows }, null, 2)}\n`);
console.log(`\nwrote ${out}`);
