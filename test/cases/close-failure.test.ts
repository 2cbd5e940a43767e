import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/bundle/load-bundle.js';
import { CaseStore } from '../../src/cases/case-store.js';
import { StreamingEvaluator } from '../../src/cases/streaming-evaluator.js';
import { InferenceBatcher } from '../../src/inference/batcher.js';
import { RunnerClosedError } from '../../src/inference/onnx-runner.js';
import { TraceScorer } from '../../src/inference/trace-scorer.js';
import { specAttributes } from '../../src/scoring/net.js';
import { LiveService } from '../../src/live/service.js';
import type { SseSink } from '../../src/live/subscriber.js';
import { DEFAULT_MODEL } from '../helpers/fixtures.js';

class CollectingSink extends EventEmitter implements SseSink {
  text = '';
  readonly writableLength = 0;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  end(): void {}
  destroy(): void {}
}

function feed(sink: CollectingSink): Record<string, unknown>[] {
  return sink.text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);
}

async function closedRunner(maxOpenCases = 10) {
  const bundle = await loadBundle(DEFAULT_MODEL);
  const { net } = bundle;
  const scorer = new TraceScorer(net, new InferenceBatcher(bundle.runner, net.inputs.length, net.outputs.length, { maxBatch: 64 }));
  const live = new LiveService({ net, alertThreshold: 0.5, explanationFloor: 0.1, ringSize: 100, maxSubscribers: 1, subscriberBuffer: 1 << 20 });
  const store = new CaseStore(net.outputs.length, new Set(specAttributes(net)), { maxOpenCases, idleTimeoutMs: 0, maxEventsPerCase: 10, maxAttributesPerCase: 10, maxAttributeCharsPerCase: 1000, maxAttributeChars: 0 }, live.caseObserver);
  const evaluator = new StreamingEvaluator(store, scorer, live.caseObserver);
  live.state.followCases(evaluator);
  const sink = new CollectingSink();
  live.subscribe(sink, {}, { snapshot: false });
  await evaluator.onEvent('c-1', { name: 'approve loan', attributes: { risk_score: '0.5' } }, false);
  expect(live.state.openCases).toBe(1);
  // Every model run fails from now on.
  await bundle.runner.close();
  return { evaluator, live, sink, store };
}

describe('a close whose model run fails', () => {
  it('rejects and leaves the case open as it was, for the retry: its events and attributes, and the live view says nothing', async () => {
    const { evaluator, live, sink, store } = await closedRunner();
    const before = store.get('c-1');
    await expect(evaluator.closeCase('c-1')).rejects.toBeInstanceOf(RunnerClosedError);

    expect(evaluator.openCases).toBe(1);
    expect(store.get('c-1')).toBe(before);
    expect(store.get('c-1')).toMatchObject({ nEvents: 1, attributes: { risk_score: '0.5' } });
    expect(live.state.openCases).toBe(1);
    // An event after it joins the case, and is announced as no new case.
    expect((await evaluator.onEvent('c-1', { name: 'reject loan' }, false)).kind).toBe('acknowledged');
    expect(store.get('c-1')?.nEvents).toBe(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(feed(sink).map((e) => e.type)).toEqual(['case_opened']);
  });

  it('a POST /events that opened a new case under its id during the run: the failed case is gone, published as close_failed', async () => {
    const { evaluator, live, sink } = await closedRunner();
    const closing = evaluator.closeCase('c-1');
    await evaluator.processStream([{ case_id: 'c-1', name: 'approve loan' }], false);
    await expect(closing).rejects.toBeInstanceOf(RunnerClosedError);

    expect(evaluator.openCases).toBe(1);
    expect(live.state.openCases).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    const events = feed(sink);
    expect(events.map((e) => e.type)).toEqual(['case_opened', 'case_evicted', 'case_opened']);
    expect(events[1]).toMatchObject({ case_id: 'c-1', reason: 'close_failed', n_events: 1 });
  });

  it('a new case under its id whose own close is under way when the first fails: the newer case is left open, with its events, and the older is gone', async () => {
    const { evaluator, live, sink, store } = await closedRunner();
    await evaluator.onEvent('c-1', { name: 'reject loan' }, false);
    const first = evaluator.closeCase('c-1');
    await evaluator.processStream([{ case_id: 'c-1', name: 'approve loan', attributes: { risk_score: '0.7' } }], false);
    // A close now is the new case's (a retry of the first, or the engine's next close).
    const second = evaluator.closeCase('c-1');
    await expect(first).rejects.toBeInstanceOf(RunnerClosedError);
    await expect(second).rejects.toBeInstanceOf(RunnerClosedError);

    expect(evaluator.openCases).toBe(1);
    expect(store.get('c-1')).toMatchObject({ nEvents: 1, attributes: { risk_score: '0.7' } });
    expect(live.state.openCases).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    const events = feed(sink);
    expect(events.map((e) => [e.type, e.n_events, e.reason])).toEqual([
      ['case_opened', undefined, undefined],
      ['case_evicted', 2, 'close_failed'],
      ['case_opened', undefined, undefined],
    ]);
  });

  it('a new case under its id evicted during the run: the failed case does not come back, as the feed said it was gone', async () => {
    const { evaluator, sink, store } = await closedRunner(2);
    const closing = evaluator.closeCase('c-1');
    // The third case evicts the oldest open one, the new c-1.
    await evaluator.processStream([{ case_id: 'c-1', name: 'approve loan' }, { case_id: 'x', name: 'approve loan' }, { case_id: 'y', name: 'approve loan' }], false);
    expect(store.get('c-1')).toBeUndefined();
    await expect(closing).rejects.toBeInstanceOf(RunnerClosedError);

    expect(store.ids()).toEqual(['x', 'y']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(feed(sink).map((e) => [e.type, e.case_id, e.reason])).toEqual([
      ['case_opened', 'c-1', undefined],
      ['case_opened', 'x', undefined],
      ['case_opened', 'y', undefined],
      ['case_evicted', 'c-1', 'close_failed'],
      ['case_opened', 'c-1', undefined],
      ['case_evicted', 'c-1', 'capacity'],
    ]);
  });
});
