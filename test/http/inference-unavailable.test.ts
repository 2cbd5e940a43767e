// First: the tap must stand in for worker_threads' Worker before the app starts its inference worker.
import { stallWorkers, terminateWorkers, unstallWorkers } from '../helpers/worker-tap.mjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { defaultConfig } from '../../src/config/options.js';
import { DEFAULT_MODEL } from '../helpers/fixtures.js';

const UNAVAILABLE = {
  error: 'inference_unavailable',
  message: 'the inference worker stopped; this instance can no longer score and must be restarted; send the request to another instance',
  details: [],
};

/**
 * The app with its runs in a worker thread, which the tap then terminates from outside as a crash would end it. The
 * process exit that follows is `petrascore serve`'s (test/cli/serve.test.ts); here, what the app says and whom it tells.
 */
// One scenario on one app: the second test shuts down the service the first one failed (shuffled, it found it ready
// and the first one found it closed).
describe('the inference worker stops on its own (--inference-thread worker)', { shuffle: false }, () => {
  let app: App;
  const logLines: Record<string, unknown>[] = [];
  const failures: Error[] = [];
  const anomaly = { input_marking: { p_application: 0.9 }, events: [{ name: 'approve loan' }] };
  beforeAll(async () => {
    const stream = { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) };
    app = await buildApp({ ...defaultConfig(), bundle: DEFAULT_MODEL, inferenceThread: 'worker' }, { level: 'info', stream });
    await app.ready();
    app.onFailure((error) => failures.push(error));
  });
  afterAll(async () => app.close());

  it('scoring answers 503 inference_unavailable (never a hang), /healthz and /readyz answer 503, one fatal line, the failure told once', async () => {
    expect((await app.inject({ method: 'POST', url: '/anomaly', payload: anomaly })).statusCode).toBe(200);
    expect(failures).toEqual([]);

    // A request sent as the worker ends, and requests after it: all refused, none waits for a worker that is gone.
    const ending = terminateWorkers();
    const during = app.inject({ method: 'POST', url: '/anomaly', payload: anomaly });
    expect(await ending).toBe(1);
    const answers: [string, Awaited<ReturnType<App['inject']>>][] = [
      ['/anomaly as the worker ended', await during],
      ['/anomaly', await app.inject({ method: 'POST', url: '/anomaly', payload: anomaly })],
      ['/anomaly/batch', await app.inject({ method: 'POST', url: '/anomaly/batch', payload: { traces: [anomaly, anomaly] } })],
      ['/forward', await app.inject({ method: 'POST', url: '/forward', payload: { input_marking: { p_application: 0.9 } } })],
      ['a scored event', await app.inject({ method: 'POST', url: '/cases/c-1/events?score=true', payload: { name: 'approve loan', attributes: { risk_score: '0.5' } } })],
    ];
    for (const [what, answer] of answers) {
      expect(answer.statusCode, `${what}: ${answer.body}`).toBe(503);
      expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(answer.json()).toEqual(UNAVAILABLE);
    }

    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(503);
    expect(health.json()).toEqual(UNAVAILABLE);
    const readiness = await app.inject({ method: 'GET', url: '/readyz' });
    expect(readiness.statusCode).toBe(503);
    expect(readiness.json()).toEqual({ status: 'failed' });
    // What needs no model is still answered (the metrics, the schema) while the process shuts down.
    expect((await app.inject({ method: 'GET', url: '/schema' })).statusCode).toBe(200);
    // A new live stream is refused as while draining: the instance is on its way out.
    const live = await app.inject({ method: 'GET', url: '/live' });
    expect(live.statusCode).toBe(503);
    expect(live.json()).toEqual(UNAVAILABLE);

    expect(failures.map((e) => e.message)).toEqual([UNAVAILABLE.message]);
    const alarming = logLines.filter((l) => (l.level as number) >= 50);
    expect(alarming).toEqual([
      expect.objectContaining({ level: 60, exit_code: 1, msg: 'the inference worker stopped: this instance can no longer score and must be restarted' }),
    ]);
    // Each refused request has its own line at info, with its error class.
    expect(logLines.filter((l) => l.msg === 'request' && l.error === 'inference_unavailable').length).toBeGreaterThanOrEqual(answers.length + 1);
  });

  it('a failed service stays failed while it shuts down, and closes', async () => {
    const closed = app.close();
    expect(app.serviceState()).toBe('failed');
    await closed;
    expect(app.serviceState()).toBe('failed');
  });
});

describe('an ONNX run in the worker that never answers (--inference-timeout)', () => {
  let app: App;
  const logLines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const stream = { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) };
    app = await buildApp({ ...defaultConfig(), bundle: DEFAULT_MODEL, inferenceThread: 'worker', inferenceTimeoutMs: 1_000 }, { level: 'info', stream });
    await app.ready();
  });
  afterAll(async () => {
    unstallWorkers();
    await app.close();
    // A worker taken for stuck is left to its run, which the stall never lets it answer: the close does not end it.
    await terminateWorkers();
  });

  it('answers the waiting request 503 after the timeout, not never, and fails the probes as a stopped worker does, saying why', async () => {
    const anomaly = { input_marking: { p_application: 0.9 }, events: [{ name: 'approve loan' }] };
    expect((await app.inject({ method: 'POST', url: '/anomaly', payload: anomaly })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

    stallWorkers();
    const waiting = await app.inject({ method: 'POST', url: '/anomaly', payload: anomaly });
    expect(waiting.statusCode, waiting.body).toBe(503);
    expect(waiting.json()).toEqual(UNAVAILABLE);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'failed' });
    const fatal = logLines.filter((l) => l.level === 60);
    expect(fatal).toEqual([expect.objectContaining({ msg: 'the inference worker stopped: this instance can no longer score and must be restarted' })]);
    expect(fatal[0]!.exit_code).toBeUndefined();
    expect((fatal[0]!.err as { message: string }).message).toMatch(/went unanswered for \d+ ms, beyond the inference timeout \(1000 ms\)/);
  });
});

describe('a close whose model run fails after a POST /events opened a new case under its id', () => {
  let app: App;
  beforeAll(async () => {
    app = await buildApp({ ...defaultConfig(), bundle: DEFAULT_MODEL, inferenceThread: 'worker' }, { level: 'silent' });
    await app.ready();
  });
  afterAll(async () => {
    unstallWorkers();
    await app.close();
  });

  it('is counted as an eviction with reason close_failed, as the live feed says it, and the new case stays open', async () => {
    const evictions = async (reason: string): Promise<string | undefined> =>
      (await app.inject({ method: 'GET', url: '/metrics' })).body.match(new RegExp(`^petrascore_case_evictions_total\\{reason="${reason}"\\} (\\d+)$`, 'm'))?.[1];
    expect((await app.inject({ method: 'POST', url: '/cases/c-1/events', payload: { name: 'approve loan', attributes: { risk_score: '0.5' } } })).statusCode).toBe(202);
    expect(await evictions('close_failed')).toBe('0');

    stallWorkers();
    const close = app.inject({ method: 'POST', url: '/cases/c-1/close' });
    // The close has taken its case out of the store and waits for its run.
    await vi.waitFor(() => expect(app.cases.openCases).toBe(0), { timeout: 5_000, interval: 5 });
    const reopened = await app.inject({ method: 'POST', url: '/events', payload: { events: [{ case_id: 'c-1', name: 'approve loan' }] } });
    expect(reopened.statusCode, reopened.body).toBe(200);
    expect(await terminateWorkers()).toBe(1);
    expect((await close).statusCode).toBe(503);

    expect(app.cases.openCases).toBe(1);
    expect(await evictions('close_failed')).toBe('1');
    expect(await evictions('deleted')).toBe('0');
  });
});
