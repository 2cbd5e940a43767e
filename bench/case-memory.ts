/**
 * `npm run bench:cases`: bytes per open streaming case, measured with 1,000,000 open cases in the real CaseStore and
 * StreamingEvaluator (one event and one numeric attribute each), beside the baseline of the same ids and attribute
 * objects held in a plain Map — the least any store must keep. Run with --expose-gc (the npm script does).
 */
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBundle } from '../src/bundle/load-bundle.js';
import { CaseStore } from '../src/cases/case-store.js';
import { StreamingEvaluator } from '../src/cases/streaming-evaluator.js';
import { InferenceBatcher } from '../src/inference/batcher.js';
import { TraceScorer } from '../src/inference/trace-scorer.js';
import { specAttributes } from '../src/scoring/net.js';
import { LiveService } from '../src/live/service.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CASES = Number(process.argv.find((a) => a.startsWith('--cases='))?.split('=')[1] ?? 1_000_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

const bundle = await loadBundle(join(ROOT, 'models', 'loan_approval', 'model.onnx'));
const net = bundle.net;
const limits = { maxOpenCases: CASES * 2, idleTimeoutMs: 0, maxEventsPerCase: 1_000_000, maxAttributesPerCase: 256, maxAttributeCharsPerCase: 65_536, maxAttributeChars: 0 };
const ids = Array.from({ length: CASES }, (_, i) => `case-${i.toString().padStart(7, '0')}`);
const labels = net.outputs.map((t) => net.labels[t]!);

/** Heap bytes per case held by whatever `build` returns, measured from a collected heap. */
function perCase(build: () => unknown): number {
  const before = heap();
  const held = build();
  const bytes = (heap() - before) / CASES;
  if (held === undefined) throw new Error('nothing held');
  return bytes;
}

const storeBytes = perCase(() => {
  const store = new CaseStore(net.outputs.length, new Set(specAttributes(net)), limits);
  const evaluator = new StreamingEvaluator(store, new TraceScorer(net, new InferenceBatcher(bundle.runner, net.inputs.length, net.outputs.length, { maxBatch: 1024 })));
  for (let i = 0; i < CASES; i++) evaluator.append(ids[i]!, { name: labels[i % labels.length]!, attributes: { risk_score: '0.5' } });
  return store;
});
// As the service runs it: the live view keeps its own record per open case (lane, recent scores, last evaluation).
const serviceBytes = perCase(() => {
  const live = new LiveService({ net, alertThreshold: 0.5, explanationFloor: 0.1, ringSize: 10_000, maxSubscribers: 1, subscriberBuffer: 1 });
  const store = new CaseStore(net.outputs.length, new Set(specAttributes(net)), limits, live.caseObserver);
  const evaluator = new StreamingEvaluator(store, new TraceScorer(net, new InferenceBatcher(bundle.runner, net.inputs.length, net.outputs.length, { maxBatch: 1024 })), live.caseObserver);
  for (let i = 0; i < CASES; i++) evaluator.append(ids[i]!, { name: labels[i % labels.length]!, attributes: { risk_score: '0.5' } });
  return [store, live];
});
const baselineBytes = perCase(() => {
  const baseline = new Map<string, Record<string, string>>();
  for (let i = 0; i < CASES; i++) baseline.set(ids[i]!, { risk_score: '0.5' });
  return baseline;
});

console.log(`open cases: ${CASES.toLocaleString('en-US')} (one event, one attribute each); node ${process.version}`);
console.log(`baseline  Map<id, attributes>       ${baselineBytes.toFixed(0)} bytes per case`);
console.log(`petrascore CaseStore                ${storeBytes.toFixed(0)} bytes per case`);
console.log(`overhead beyond id and attributes   ${(storeBytes - baselineBytes).toFixed(0)} bytes per case (target < 300)`);
console.log(`with the live view's case record   ${serviceBytes.toFixed(0)} bytes per case, overhead ${(serviceBytes - baselineBytes).toFixed(0)} (as served)`);
await bundle.runner.close();
