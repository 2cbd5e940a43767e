// First: the tap must stand in for worker_threads' Worker before the app starts its inference worker.
import { hangWorkers } from '../helpers/worker-tap.mjs';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { fileLines, post, until, useCaseStateFiles } from '../helpers/case-state.js';

const { stateFile, app } = useCaseStateFiles();

afterEach(() => hangWorkers(0));

const ids = (file: string) => (existsSync(file) ? fileLines(file).slice(1).map((line) => line.id) : []);

describe('a checkpoint taken while a close is under way (--case-state-checkpoint-interval)', () => {
  it('writes the closing case after the open ones, as the shutdown save does, and the next checkpoint after the close leaves it out', async () => {
    const file = stateFile();
    const { app: served } = await app({ caseStateFile: file, caseStateCheckpointSeconds: 1, inferenceThread: 'worker' });
    served.startedServing();
    await post(served, '/cases/K1/events', { name: 'approve loan', attributes: { risk_score: 0.9 } });
    await post(served, '/cases/K2/events', { name: 'approve loan', attributes: { risk_score: 0.4 } });
    await until('the open cases are checkpointed', () => ids(file).length === 2);

    // The close's run blocks the worker long enough for a checkpoint to be taken meanwhile.
    hangWorkers(2_500);
    const close = served.inject({ method: 'POST', url: '/cases/K1/close' });
    await until('a checkpoint holds the case under way', () => ids(file).join() === 'K2,K1');
    // Until the close answers, its caller may retry it after a crash: the case must still be there to close.
    expect(served.cases.openCases).toBe(1);
    expect(fileLines(file).at(-1)).toMatchObject({ id: 'K1', n_events: 1, attributes: { risk_score: 0.9 } });
    hangWorkers(0);

    const closed = await close;
    expect(closed.statusCode, closed.body).toBe(200);
    expect(closed.json()).toMatchObject({ case_id: 'K1', closed: true });
    // Nothing else changes: the close's end alone has the next checkpoint write the file again.
    await until('a checkpoint after the close leaves the closed case out', () => ids(file).join() === 'K2');
  });
});
