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

describe('a close whose model run fails', () => {
  it('rejects, and the live view drops the case as close_failed instead of keeping it open', async () => {
    const bundle = await loadBundle(DEFAULT_MODEL);
    const { net } = bundle;
    try {
      const scorer = new TraceScorer(net, new InferenceBatcher(bundle.runner, net.inputs.length, net.outputs.length, { maxBatch: 64 }));
      const live = new LiveService({ net, alertThreshold: 0.5, explanationFloor: 0.1, ringSize: 100, maxSubscribers: 1, subscriberBuffer: 1 << 20 });
      const store = new CaseStore(net.outputs.length, new Set(specAttributes(net)), { maxOpenCases: 10, idleTimeoutMs: 0, maxEventsPerCase: 10, maxAttributesPerCase: 10, maxAttributeCharsPerCase: 1000, maxAttributeChars: 0 }, live.caseObserver);
      const evaluator = new StreamingEvaluator(store, scorer, live.caseObserver);
      live.state.followCases(evaluator);
      const sink = new CollectingSink();
      live.subscribe(sink, {}, { snapshot: false });

      await evaluator.onEvent('c-1', { name: 'approve loan', attributes: { risk_score: '0.5' } }, false);
      expect(live.state.openCases).toBe(1);
      await bundle.runner.close();
      await expect(evaluator.closeCase('c-1')).rejects.toBeInstanceOf(RunnerClosedError);

      expect(evaluator.openCases).toBe(0);
      expect(live.state.openCases).toBe(0);
      await new Promise((resolve) => setImmediate(resolve));
      const evicted = sink.text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>).find((e) => e.type === 'case_evicted');
      expect(evicted).toMatchObject({ case_id: 'c-1', reason: 'close_failed', n_events: 1 });
    } finally {
      await bundle.runner.close();
    }
  });
});
