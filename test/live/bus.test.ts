import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { LiveBus } from '../../src/live/bus.js';
import type { SnapshotEvent, StatsEvent } from '../../src/live/events.js';
import { EventRing } from '../../src/live/ring.js';
import { LiveService, randomFirstId } from '../../src/live/service.js';
import { loadBundle } from '../../src/bundle/load-bundle.js';
import { DEFAULT_MODEL } from '../helpers/fixtures.js';
import type { SseSink } from '../../src/live/subscriber.js';
import { testApp } from '../helpers/app.js';

/** A sink with a fixed capacity in bytes: full means write() returns false until drain() is called. */
class FakeSink extends EventEmitter implements SseSink {
  chunks: string[] = [];
  writableLength = 0;
  ended = false;
  destroyed = false;

  constructor(private readonly capacity = Number.POSITIVE_INFINITY) {
    super();
  }

  write(chunk: string): boolean {
    this.chunks.push(chunk);
    this.writableLength += chunk.length;
    return this.writableLength < this.capacity;
  }

  /** The client read everything. */
  drain(): void {
    this.writableLength = 0;
    this.emit('drain');
  }

  end(): void {
    this.ended = true;
  }

  destroy(): void {
    this.destroyed = true;
  }

  ids(): number[] {
    return [...this.chunks.join('').matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  }
}

const snapshot = (head: number): SnapshotEvent => ({
  type: 'snapshot',
  id: head,
  ts: '',
  scenario: 's',
  alert_threshold: 1,
  lane_thresholds: {},
  open_cases: 0,
  cases: [],
  stateless: [],
  alerts: [],
  stats: { open_cases: 0, events_per_s: 0, scores_per_s: 0, alerts_last_minute: 0, subscribers: 0 },
});

function stats(bus: LiveBus, n: number): void {
  for (let i = 0; i < n; i++) bus.publish<StatsEvent>({ type: 'stats', open_cases: i, events_per_s: 0, scores_per_s: 0, alerts_last_minute: 0, subscribers: 0 });
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('the event ring', () => {
  it('keeps the last N events with consecutive ids, and knows which ids can be resumed', () => {
    const ring = new EventRing(4);
    expect([ring.latestId, ring.oldestId, ring.size, ring.canResumeAfter(0)]).toEqual([0, 1, 0, true]);
    const bus = new LiveBus({ ringSize: 4, maxSubscribers: 1, subscriberBuffer: 4 });
    stats(bus, 6);
    expect([bus.ring.latestId, bus.ring.oldestId, bus.ring.size]).toEqual([6, 3, 4]);
    expect(bus.ring.get(2)).toBeUndefined();
    expect(bus.ring.get(3)!.event.id).toBe(3);
    expect(bus.ring.get(7)).toBeUndefined();
    expect([1, 2, 3, 6, 7].map((id) => bus.ring.canResumeAfter(id))).toEqual([false, true, true, true, false]);
  });

  it('reuses its slots for evaluations and other events alike: what a slot holds is always the latest event under its id', () => {
    const transitions = { ids: ['t_a', 't_b', 't_c', 't_d'], labels: ['a', 'b', 'c', 'd'] };
    const bus = new LiveBus({ ringSize: 3, maxSubscribers: 1, subscriberBuffer: 4, now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 6), transitions });
    const evaluate = (caseId: string, residuals: number[]) => {
      const record = bus.nextEvaluation();
      record.describe(caseId, -1, 'L', 'anomaly', 2, false, 0.5);
      Object.assign(record, { traceScore: residuals.reduce((a, b) => a + b, 0), alert: false });
      // t_c was observed (its activation 1 − residual), the others not: each keeps its own flag through the ring's rows.
      residuals.forEach((r, column) => record.offerTop(column, r, column === 2 ? 1 - r : r, column === 2 ? 1 : 0));
      bus.evaluationWritten();
    };
    for (let round = 0; round < 4; round++) {
      evaluate(`c${round}`, [0.1, 0.7, 0.7, 0.2]);
      stats(bus, 1);
      evaluate(`d${round}`, [0.3]);
    }
    const held = [10, 11, 12].map((id) => bus.ring.get(id)!.event);
    expect(held.map((e) => [e.id, e.type, 'case_id' in e ? e.case_id : undefined])).toEqual([
      [10, 'evaluation', 'c3'],
      [11, 'stats', undefined],
      [12, 'evaluation', 'd3'],
    ]);
    // Largest first; the tie between t_b and t_c keeps transition order; only three are listed.
    expect(held[0]).toEqual({
      type: 'evaluation',
      id: 10,
      ts: '2026-01-02T03:04:05.006Z',
      case_id: 'c3',
      lane: 'L',
      source: 'anomaly',
      n_events: 2,
      trace_score: 0.1 + 0.7 + 0.7 + 0.2,
      closed: false,
      top: [
        { id: 't_b', label: 'b', residual: 0.7, activation: 0.7, observed: 0 },
        { id: 't_c', label: 'c', residual: 0.7, activation: 1 - 0.7, observed: 1 },
        { id: 't_d', label: 'd', residual: 0.2, activation: 0.2, observed: 0 },
      ],
      latency_ms: 0.5,
    });
    expect(held[2]).toMatchObject({ case_id: 'd3', top: [{ id: 't_a', residual: 0.3 }] });
    expect(bus.ring.get(10)!.frame).toBe(`id: 10\nevent: evaluation\ndata: ${JSON.stringify(held[0])}\n\n`);
  });

  it('keeps the top three residuals of any order, as a full sort would (ties in transition order)', () => {
    let seed = 3;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const bus = new LiveBus({ ringSize: 2, maxSubscribers: 1, subscriberBuffer: 4 });
    for (let trial = 0; trial < 500; trial++) {
      const residuals = Array.from({ length: 1 + Math.floor(random() * 8) }, () => Math.round(random() * 4) / 4);
      const record = bus.nextEvaluation();
      residuals.forEach((value, column) => record.offerTop(column, value, 1 - value, 1));
      bus.evaluationWritten();
      const expected = residuals.map((value, column) => ({ column, value })).sort((a, b) => b.value - a.value || a.column - b.column).slice(0, 3);
      const got = [record.column0, record.column1, record.column2].slice(0, record.topCount);
      expect(got).toEqual(expected.map((e) => e.column));
    }
  });
});

describe('subscribers', () => {
  it('a subscriber that never reads is cut off once it is more than the buffer behind; its memory is the ring', async () => {
    const bus = new LiveBus({ ringSize: 1000, maxSubscribers: 2, subscriberBuffer: 50 });
    const stalled = new FakeSink(2000);
    const reader = new FakeSink();
    bus.subscribe(stalled, {}, {}, snapshot);
    bus.subscribe(reader, {}, {}, snapshot);
    let maxBacklog = 0;
    for (let i = 0; i < 500; i++) {
      stats(bus, 1);
      for (const s of bus.subscriberStats()) maxBacklog = Math.max(maxBacklog, s.maxBacklog);
      if (i % 10 === 0) await tick();
    }
    await tick();
    expect(stalled.destroyed).toBe(true);
    expect(maxBacklog).toBeLessThanOrEqual(51);
    // What it was handed before blocking is all it ever held: a few frames beyond its 2000-byte capacity.
    expect(stalled.writableLength).toBeLessThan(2000 + 64 * 1024);
    expect(bus.subscriberStats().map((s) => s.serial)).toEqual([2]);
    expect(reader.ids()).toEqual(Array.from({ length: 501 }, (_, i) => i)); // snapshot (id 0) and 1..500
  });

  it('a slow reader that drains in time is never cut and misses nothing', async () => {
    const bus = new LiveBus({ ringSize: 1000, maxSubscribers: 1, subscriberBuffer: 100 });
    const slow = new FakeSink(1000);
    bus.subscribe(slow, {}, { snapshot: false }, snapshot);
    for (let round = 0; round < 20; round++) {
      stats(bus, 40);
      await tick();
      slow.drain();
    }
    await tick();
    expect(slow.destroyed).toBe(false);
    expect(slow.ids()).toEqual(Array.from({ length: 800 }, (_, i) => i + 1));
  });

  it('a reader caught behind by a burst survives the grace; one still behind after it is cut at the next publish', async () => {
    let now = 1_000_000;
    const bus = new LiveBus({ ringSize: 1000, maxSubscribers: 2, subscriberBuffer: 50, subscriberGraceMs: 500, now: () => now });
    const reader = new FakeSink(2000);
    const stalled = new FakeSink(2000);
    bus.subscribe(reader, {}, { snapshot: false }, snapshot);
    bus.subscribe(stalled, {}, { snapshot: false }, snapshot);
    // One synchronous burst of 300 events: both sinks fill, and both fall far more than the buffer behind.
    stats(bus, 300);
    expect(bus.subscriberStats().map((s) => [s.serial, s.blocked])).toEqual([
      [1, true],
      [2, true],
    ]);
    now += 100;
    reader.drain();
    while (reader.writableLength > 0) {
      await tick();
      reader.drain();
    }
    stats(bus, 1);
    now += 450; // the stalled sink has been behind for 550 ms, the reader caught up 450 ms ago
    stats(bus, 1);
    await tick();
    expect(stalled.destroyed).toBe(true);
    expect(reader.destroyed).toBe(false);
    expect(bus.subscriberStats().map((s) => s.serial)).toEqual([1]);
    reader.drain();
    await tick();
    expect(reader.ids()).toEqual(Array.from({ length: 302 }, (_, i) => i + 1));
  });

  it('without a grace, a subscriber more than the buffer behind is cut at once; past the ring, whatever the grace', () => {
    const strict = new LiveBus({ ringSize: 1000, maxSubscribers: 1, subscriberBuffer: 50 });
    const a = new FakeSink(2000);
    strict.subscribe(a, {}, { snapshot: false }, snapshot);
    stats(strict, 300);
    expect(a.destroyed).toBe(true);
    const lenient = new LiveBus({ ringSize: 100, maxSubscribers: 1, subscriberBuffer: 50, subscriberGraceMs: 60_000 });
    const b = new FakeSink(2000);
    lenient.subscribe(b, {}, { snapshot: false }, snapshot);
    stats(lenient, 99);
    expect(b.destroyed).toBe(false);
    stats(lenient, 100); // its next event is no longer in the ring: no use waiting
    expect(b.destroyed).toBe(true);
  });

  it('resumes after Last-Event-ID from the ring, or says gap and sends a snapshot', async () => {
    const bus = new LiveBus({ ringSize: 8, maxSubscribers: 4, subscriberBuffer: 8 });
    stats(bus, 20);
    const resumed = new FakeSink();
    bus.subscribe(resumed, {}, { lastEventId: '15' }, snapshot);
    expect(resumed.ids()).toEqual([16, 17, 18, 19, 20]);
    const gap = new FakeSink();
    bus.subscribe(gap, {}, { lastEventId: '3' }, snapshot);
    expect(gap.chunks.join('')).toMatch(/^id: 20\nevent: gap\ndata: \{"type":"gap","id":20,"ts":"[^"]+","requested":"3","oldest":13,"reason":"expired"\}\n\nid: 20\nevent: snapshot\n/);
    stats(bus, 1);
    await tick();
    expect(resumed.ids().at(-1)).toBe(21);
    expect(gap.ids()).toEqual([20, 20, 21]);
  });

  it('heartbeats only idle streams, and shutdown ends every stream cleanly', () => {
    let now = 1_000_000;
    const bus = new LiveBus({ ringSize: 8, maxSubscribers: 4, subscriberBuffer: 8, now: () => now });
    const sink = new FakeSink();
    bus.subscribe(sink, {}, {}, snapshot);
    const before = sink.chunks.length;
    bus.heartbeat(15_000);
    expect(sink.chunks.length).toBe(before);
    now += 20_000;
    bus.heartbeat(15_000);
    expect(sink.chunks.at(-1)).toBe(': heartbeat 0\nid: 0\n\n');
    bus.closeAll();
    expect(sink.ended).toBe(true);
    expect(bus.subscriberCount).toBe(0);
  });
});

describe('the alert history', () => {
  it('replays the alerts that left the ring to a reader of alerts alone, in order and once each, also when its connection fills', async () => {
    const app = await testApp({ liveRingSize: 16, liveAlertHistory: 1000, liveStatsIntervalMs: 0 });
    try {
      const base = app.live.bus.ring.startsAfter;
      for (let i = 0; i < 300; i++) {
        const answer = await app.inject({ method: 'POST', url: '/anomaly', payload: { input_marking: { p_application: 0.9 }, events: [] } });
        expect(answer.statusCode).toBe(200);
      }
      const ring = app.live.bus.ring;
      expect(ring.alertHistory.size).toBeGreaterThan(280);
      // 10 KB of room: the 64 KB chunks of the replay fill it many times over.
      const sink = new FakeSink(10_000);
      app.live.subscribe(sink, { types: new Set(['alert']) }, { lastEventId: String(base) });
      for (let rounds = 0; rounds < 100 && sink.ids().length < 300; rounds++) {
        sink.drain();
        await tick();
      }
      const alertIds = Array.from({ length: 300 }, (_, i) => base + 2 * i + 2);
      expect(sink.ids()).toEqual(alertIds);
      expect(sink.chunks.length).toBeGreaterThan(2);
      // Every frame is the alert as published: its evaluation is the event before it.
      const frames = sink.chunks.join('').split('\n\n').filter((f) => f !== '');
      expect(frames.map((f) => (JSON.parse(f.split('\ndata: ')[1]!) as { evaluation_id: number }).evaluation_id)).toEqual(alertIds.map((id) => id - 1));
    } finally {
      await app.close();
    }
  });
});

describe('event ids across instances', () => {
  it('start at a random place of each instance\'s own, so that a resume with another replica\'s id gets a gap, even for replicas started in the same millisecond', async () => {
    const { net, runner } = await loadBundle(DEFAULT_MODEL);
    try {
      const sameClock = () => 1_796_000_000_000;
      const replicas = [0, 1].map(() => new LiveService({ net, alertThreshold: 0.5, explanationFloor: 0.1, ringSize: 100, maxSubscribers: 2, subscriberBuffer: 1 << 20, now: sameClock }));
      const [a, b] = replicas as [LiveService, LiveService];
      // A billion events apart at the least, but for a chance of one in a million.
      expect(Math.abs(a.bus.ring.startsAfter - b.bus.ring.startsAfter)).toBeGreaterThan(1e9);
      for (const replica of replicas) {
        for (let i = 0; i < 5; i++) replica.tick();
        expect(Number.isSafeInteger(replica.bus.latestId)).toBe(true);
      }
      const sink = new FakeSink();
      b.subscribe(sink, {}, { lastEventId: String(a.bus.latestId - 2) });
      const [gap] = sink.chunks.join('').split('\n\n').map((frame) => frame.split('\ndata: ')[1]);
      expect(JSON.parse(gap!)).toMatchObject({ type: 'gap', reason: 'unknown', id: b.bus.latestId });
    } finally {
      await runner.close();
    }
  });

  it('draws starts from 2^50 to 2^52, whole numbers, different each time', () => {
    const starts = Array.from({ length: 1000 }, randomFirstId);
    for (const start of starts) {
      expect(Number.isSafeInteger(start)).toBe(true);
      expect(start).toBeGreaterThanOrEqual(2 ** 50);
      expect(start).toBeLessThan(2 ** 52);
    }
    expect(new Set(starts).size).toBe(1000);
    // Spread over the range, low bits too.
    expect(Math.max(...starts) - Math.min(...starts)).toBeGreaterThan(2 ** 51);
    expect(new Set(starts.map((s) => s % 16)).size).toBe(16);
  });
});
