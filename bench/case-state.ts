/**
 * `npm run bench:case-state`: how long `--case-state-file` makes a shutdown and a startup, with 1,000,000 open cases
 * (one event and one numeric attribute each) in the real CaseStore: the save (synchronous, on the way out) and the
 * restore (before the service listens), beside a baseline in the same run: one JSON.stringify of the same records
 * written with one writeFileSync, and one JSON.parse of that file. Medians of --runs (3). Also a checkpoint while
 * serving (--case-state-checkpoint-interval): its whole time, and the longest it held the event loop at once (from
 * monitorEventLoopDelay), beside the save, which holds it throughout.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBundle } from '../src/bundle/load-bundle.js';
import { CaseStore } from '../src/cases/case-store.js';
import { CHECKPOINT_SLICE_MS } from '../src/cases/case-checkpoints.js';
import { checkpointOpenCases, restoreOpenCases, saveOpenCases } from '../src/cases/saved-cases.js';
import { specAttributes } from '../src/scoring/net.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const CASES = arg('cases', 1_000_000);
const RUNS = arg('runs', 3);

const bundle = await loadBundle(join(ROOT, 'models', 'loan_approval', 'model.onnx'));
const { net, modelSha256 } = bundle;
const model = { net, modelSha256 };
const limits = { maxOpenCases: CASES, idleTimeoutMs: 0, maxEventsPerCase: 1_000_000, maxAttributesPerCase: 256, maxAttributeCharsPerCase: 65_536, maxAttributeChars: 0 };
const kept = new Set(specAttributes(net));
const newStore = () => new CaseStore(net.outputs.length, kept, limits);

const store = newStore();
const attribute = specAttributes(net)[0]!;
for (let i = 0; i < CASES; i++) store.record(`case-${i.toString().padStart(7, '0')}`, i % net.outputs.length, { [attribute]: String((i % 1000) / 1000) });

const dir = mkdtempSync(join(tmpdir(), 'petrascore-bench-state-'));
const file = join(dir, 'open-cases.jsonl');
const baselineFile = join(dir, 'baseline.json');
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const timed = async (run: () => unknown): Promise<number> => {
  const started = performance.now();
  await run();
  return performance.now() - started;
};

const save: number[] = [];
const restore: number[] = [];
const baselineWrite: number[] = [];
const baselineRead: number[] = [];
const checkpoint: number[] = [];
const checkpointHold: number[] = [];
try {
  for (let run = 0; run < RUNS; run++) {
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    checkpoint.push(await timed(() => checkpointOpenCases(file, store, model, () => [], { sliceMs: CHECKPOINT_SLICE_MS, cancelled: () => false })));
    delay.disable();
    checkpointHold.push(delay.max / 1e6);
    save.push(await timed(() => saveOpenCases(file, store, model)));
    restore.push(await timed(() => restoreOpenCases(file, newStore(), model)));
    const records = [...store.byRecency()].map((s) => ({ id: s.caseId, n_events: s.nEvents, seen: [net.outputs[0]], attributes: s.attributes, last_seen: s.lastSeen }));
    baselineWrite.push(await timed(() => writeFileSync(baselineFile, JSON.stringify(records))));
    baselineRead.push(await timed(() => JSON.parse(readFileSync(baselineFile, 'utf8'))));
  }
  const size = statSync(file).size;
  const row = (what: string, ms: number, base: number) => `${what.padEnd(28)} ${ms.toFixed(0).padStart(7)} ms   baseline ${base.toFixed(0).padStart(6)} ms   ${(ms / base).toFixed(2)}×`;
  console.log(`--case-state-file with ${CASES.toLocaleString('en')} open cases (one attribute each), medians of ${RUNS}; file ${(size / 1e6).toFixed(1)} MB, ${(size / CASES).toFixed(0)} bytes a case`);
  console.log(row('save (at shutdown)', median(save), median(baselineWrite)));
  console.log(row('restore (at startup)', median(restore), median(baselineRead)));
  console.log(
    `${'checkpoint (while serving)'.padEnd(28)} ${median(checkpoint).toFixed(0).padStart(7)} ms   the event loop held at most ${median(checkpointHold).toFixed(1)} ms at once (slices of ${CHECKPOINT_SLICE_MS} ms; the save above holds it throughout)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
