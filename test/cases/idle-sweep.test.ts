import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { defaultConfig } from '../../src/config/options.js';
import { DEFAULT_MODEL } from '../helpers/fixtures.js';

const IDLE_LINE = 'idle cases evicted (--case-idle-timeout)';

/**
 * The idle sweep's log lines, with the clock stopped. Only Date is faked: the sweep's interval and its setImmediate
 * slices run on real timers, but every case touched while the clock stands has the same lastSeen, so they all turn
 * idle at the same instant and one sweep finds them all. Through the CLI (test/cli/serve.test.ts) the 5000 events of one
 * request take their lastSeen across the time the request takes, a few hundred ms on a busy machine, and the sweep
 * runs every 100 ms: there the number of sweeps that find them, hence of lines, depends on the machine's speed.
 */
describe('idle sweep (--case-idle-timeout)', () => {
  let app: App | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
    vi.useRealTimers();
  });

  it('evicts the cases idle at one sweep in slices, logged as one line with their number; a later sweep has its own line', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    // Built with the clock stopped: the store reads the clock it finds at construction.
    app = await buildApp({ ...defaultConfig(), bundle: DEFAULT_MODEL, caseIdleTimeoutSeconds: 1, maxOpenCases: 4000, liveStatsIntervalMs: 0 }, { level: 'info', stream });
    await app.ready();
    const idleLines = () => lines.filter((l) => l.msg === IDLE_LINE);

    // 4000 idle cases at once: twice the slice the sweep evicts per turn of the event loop.
    const events = Array.from({ length: 5000 }, (_, i) => ({ case_id: `idle-${i}`, name: 'approve loan' }));
    const posted = await app.inject({ method: 'POST', url: '/events', payload: { events } });
    expect(posted.statusCode, posted.body).toBe(200);
    expect(idleLines(), 'nothing is idle while the clock stands').toEqual([]);

    vi.setSystemTime(start + 1_000);
    await vi.waitFor(() => expect(idleLines()).not.toEqual([]), { timeout: 10_000, interval: 20 });
    expect(idleLines()).toEqual([expect.objectContaining({ reason: 'idle', evicted: 4000, idle_timeout_s: 1 })]);
    expect(lines.filter((l) => l.msg === 'case evicted'), 'no line per case at info').toEqual([]);
    expect(app.cases.openCases).toBe(0);

    // Cases that turn idle later are another sweep's, and another line's.
    const later = Array.from({ length: 10 }, (_, i) => ({ case_id: `later-${i}`, name: 'approve loan' }));
    expect((await app.inject({ method: 'POST', url: '/events', payload: { events: later } })).statusCode).toBe(200);
    vi.setSystemTime(start + 2_000);
    await vi.waitFor(() => expect(idleLines()).toHaveLength(2), { timeout: 10_000, interval: 20 });
    expect(idleLines()[1]).toMatchObject({ reason: 'idle', evicted: 10, idle_timeout_s: 1 });

    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^petrascore_case_evictions_total\{reason="idle"\} 4010$/m);
    expect(metrics).toMatch(/^petrascore_case_evictions_total\{reason="capacity"\} 1000$/m);
  });

  it('evicts a case idle past the timeout when its next event comes before the sweep: the event opens a new case, and says so', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    // A 1000 s timeout sweeps once a minute (real timers): none runs within this test.
    app = await buildApp({ ...defaultConfig(), bundle: DEFAULT_MODEL, caseIdleTimeoutSeconds: 1000, liveStatsIntervalMs: 0 });
    await app.ready();
    const event = (id: string) => app!.inject({ method: 'POST', url: `/cases/${id}/events`, payload: { name: 'approve loan' } });
    await event('late');
    await event('on-time');
    vi.setSystemTime(start + 999_000);
    expect((await event('on-time')).json()).toEqual({ case_id: 'on-time', n_events: 2 });

    vi.setSystemTime(start + 1_000_000);
    const late = await event('late');
    expect(late.json()).toEqual({ case_id: 'late', n_events: 1 });
    expect(late.headers['x-petrascore-reopened']).toBe('evicted (idle)');
    expect((await event('on-time')).json(), 'touched 1 s ago').toEqual({ case_id: 'on-time', n_events: 3 });
    expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/^petrascore_case_evictions_total\{reason="idle"\} 1$/m);
  });
});
