import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { loadBundle, type Bundle } from '../../src/bundle/load-bundle.js';
import { CaseStore } from '../../src/cases/case-store.js';
import { StreamingEvaluator } from '../../src/cases/streaming-evaluator.js';
import { InferenceBatcher } from '../../src/inference/batcher.js';
import { RunnerClosedError } from '../../src/inference/onnx-runner.js';
import { TraceScorer } from '../../src/inference/trace-scorer.js';
import { specAttributes } from '../../src/scoring/net.js';
import { LiveService } from '../../src/live/service.js';
import { testApp } from '../helpers/app.js';
import { DEFAULT_MODEL } from '../helpers/fixtures.js';

interface FeedEvent {
  type: string;
  case_id?: string;
  n_events?: number;
}

/** Every case event and case evaluation the live feed published after `after`, in feed order. */
function feed(live: LiveService, after: number): string[] {
  const lines: string[] = [];
  for (let id = after + 1; id <= live.bus.latestId; id++) {
    const event = live.bus.ring.get(id)?.event as FeedEvent | undefined;
    if (event === undefined || event.case_id === undefined || event.type === 'alert') continue;
    lines.push(`${event.type} ${event.case_id}${event.type === 'evaluation' ? ` #${event.n_events}` : ''}`);
  }
  return lines;
}

/** The open cases a reader rebuilds from the feed alone. */
function openFromFeed(lines: readonly string[], open = new Set<string>()): Set<string> {
  for (const line of lines) {
    const [type, id] = line.split(' ') as [string, string];
    if (type === 'case_opened') open.add(id);
    if (type === 'case_evicted' || type === 'case_closed') open.delete(id);
  }
  return open;
}

/**
 * The real model, live view, case store and evaluator, wired as the cases plugin wires them (the store's evictions go
 * through the evaluator), with at most `maxOpenCases` open cases.
 */
async function withCases(maxOpenCases: number, test: (parts: { bundle: Bundle; live: LiveService; store: CaseStore; evaluator: StreamingEvaluator }) => Promise<void>): Promise<void> {
  const bundle = await loadBundle(DEFAULT_MODEL);
  const { net } = bundle;
  try {
    const scorer = new TraceScorer(net, new InferenceBatcher(bundle.runner, net.inputs.length, net.outputs.length, { maxBatch: 64 }));
    const live = new LiveService({ net, alertThreshold: 0.5, explanationFloor: 0.1, ringSize: 100, maxSubscribers: 1, subscriberBuffer: 1 << 20 });
    const store = new CaseStore(net.outputs.length, new Set(specAttributes(net)), { maxOpenCases, idleTimeoutMs: 0, maxEventsPerCase: 10, maxAttributesPerCase: 10, maxAttributeCharsPerCase: 1000, maxAttributeChars: 0 }, { onEvict: (id, state, reason) => evaluator.evicted(id, state, reason) });
    const evaluator = new StreamingEvaluator(store, scorer, live.caseObserver);
    live.state.followCases(evaluator);
    await test({ bundle, live, store, evaluator });
  } finally {
    await bundle.runner.close();
  }
}

describe('POST /events that evicts cases it scores (more cases than --max-open-cases)', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ maxOpenCases: 3, liveStatsIntervalMs: 0 });
  });
  afterAll(async () => app.close());

  it('publishes each evaluation before the eviction that followed its event, and a reused id opens after that eviction', async () => {
    const before = app.live.bus.latestId;
    const events = ['B1', 'B2', 'B3', 'B4', 'B5', 'B1'].map((case_id) => ({ case_id, name: 'approve loan', attributes: { risk_score: '0.9' } }));
    const response = await app.inject({ method: 'POST', url: '/events?score=true', payload: { events } });
    expect(response.statusCode, response.body).toBe(200);
    // B4 evicts B1, B5 evicts B2, the second B1 (a fresh case) evicts B3.
    expect(feed(app.live, before)).toEqual([
      'case_opened B1',
      'case_opened B2',
      'case_opened B3',
      'case_opened B4',
      'case_opened B5',
      'evaluation B1 #1',
      'case_evicted B1',
      'case_opened B1',
      'evaluation B2 #1',
      'case_evicted B2',
      'evaluation B3 #1',
      'case_evicted B3',
      'evaluation B4 #1',
      'evaluation B5 #1',
      'evaluation B1 #1',
    ]);
    const cases = (await app.inject({ method: 'GET', url: '/cases' })).json<{ case_ids: string[] }>().case_ids;
    expect(cases).toEqual(['B1', 'B4', 'B5']);
    expect([...openFromFeed(feed(app.live, before))].sort()).toEqual(cases);
    expect(app.live.snapshot().cases.map((c) => c.case_id).sort()).toEqual(cases);
  });
});

describe('a POST /events whose model run fails', () => {
  it('still publishes the evictions it held, so the feed does not keep the evicted case open', async () => {
    await withCases(1, async ({ bundle, live, evaluator }) => {
      await bundle.runner.close();
      const events = ['A', 'B'].map((case_id) => ({ case_id, name: 'approve loan', attributes: { risk_score: '0.5' } }));
      await expect(evaluator.processStream(events, true)).rejects.toBeInstanceOf(RunnerClosedError);
      expect(feed(live, live.bus.ring.startsAfter)).toEqual(['case_opened A', 'case_opened B', 'case_evicted A']);
      expect(live.state.openCases).toBe(1);
    });
  });
});

describe('a single scored event whose case other requests evict during its model run', () => {
  it('publishes its evaluation before the eviction, and a case reopened under its id after both', async () => {
    await withCases(1, async ({ live, store, evaluator }) => {
      const event = { name: 'approve loan', attributes: { risk_score: '0.5' } };
      // A's run is under way when B's event evicts it (one open case at most), and A's id comes back before it ends.
      const scored = evaluator.onEvent('A', event, true);
      evaluator.append('B', event);
      // While A's eviction waits for its evaluation, A is no longer counted open, as the store no longer has it.
      expect([live.tick().open_cases, live.snapshot().cases.map((c) => c.case_id)]).toEqual([1, ['B']]);
      evaluator.append('A', event);
      expect((await scored).kind).toBe('evaluated');
      expect(feed(live, live.bus.ring.startsAfter)).toEqual(['case_opened A', 'case_opened B', 'case_evicted B', 'evaluation A #1', 'case_evicted A', 'case_opened A']);
      expect([live.state.openCases, live.tick().open_cases]).toEqual([1, 1]);
      expect(store.get('A')?.scoring).toBe(0);
    });
  });
});
