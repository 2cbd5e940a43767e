// First: the tap must stand in for worker_threads' Worker before the runner starts one.
import { hangWorkers, runningWorkers, stallWorkers, terminateWorkers, unstallWorkers } from '../helpers/worker-tap.mjs';
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle, type Bundle } from '../../src/bundle/load-bundle.js';
import { InferenceUnavailableError, type WorkerStop } from '../../src/inference/inference-unavailable.js';
import { RunnerClosedError } from '../../src/inference/onnx-runner.js';
import { WorkerRunner, workerStuck } from '../../src/inference/worker-runner.js';
import { DEFAULT_MODEL } from '../helpers/fixtures.js';

/**
 * The worker runner on the default bundle's real session in a real worker thread, ended from outside (the tap
 * terminates it as a crash would end it) or closed on purpose.
 */
let bundle: Bundle;
let model: Uint8Array;
beforeAll(async () => {
  bundle = await loadBundle(DEFAULT_MODEL);
  model = await readFile(bundle.modelPath);
});
afterAll(async () => {
  await bundle.runner.close();
});

/** `promise`, or a rejection naming `what` if it has not settled within `ms`: a hang fails fast instead of timing out. */
function within<T>(promise: Promise<T>, what: string, ms = 2_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} had not settled after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function openRunner(runTimeoutMs?: number): Promise<{ runner: WorkerRunner; stops: WorkerStop[] }> {
  const stops: WorkerStop[] = [];
  const runner = await WorkerRunner.open(model, bundle.net, bundle.outputName, { onStop: (stop) => stops.push(stop), ...(runTimeoutMs === undefined ? {} : { runTimeoutMs }) });
  return { runner, stops };
}

const row = () => bundle.net.defaultRow.slice();

describe('WorkerRunner when its worker thread ends', () => {
  it('on its own: the run waiting and every later run are refused at once with InferenceUnavailableError, and the stop is reported once', async () => {
    const { runner, stops } = await openRunner();
    expect(await runner.run(row(), 1)).toHaveLength(bundle.net.outputs.length);

    // Terminated before the run is posted: the worker can no longer answer it, so the run waits for the exit.
    const ending = terminateWorkers();
    const waiting = runner.run(row(), 1);
    await expect(within(waiting, 'the run waiting when the worker ended')).rejects.toBeInstanceOf(InferenceUnavailableError);
    expect(await ending).toBe(1);

    for (let i = 0; i < 3; i++) {
      await expect(within(runner.run(row(), 1), 'a run after the worker ended')).rejects.toThrow(
        'the inference worker stopped; this instance can no longer score and must be restarted; send the request to another instance',
      );
    }
    expect(stops).toEqual([{ exitCode: 1 }]);

    // The shutdown that follows still closes it, and the runs stay refused with the fault's error.
    await within(runner.close(), 'close() after the worker ended');
    await expect(runner.run(row(), 1)).rejects.toBeInstanceOf(InferenceUnavailableError);
    expect(stops).toHaveLength(1);
  });

  it('closed on purpose: the started run finishes, later runs are refused with RunnerClosedError, and nothing is reported', async () => {
    const { runner, stops } = await openRunner();
    const started = runner.run(row(), 1);
    await within(runner.close(), 'close()');
    expect(await started).toHaveLength(bundle.net.outputs.length);
    await expect(runner.run(row(), 1)).rejects.toBeInstanceOf(RunnerClosedError);
    expect(stops).toEqual([]);
  });
});

describe('a worker thread that ends before its session opens', () => {
  it('fails the start at once with what happened, instead of leaving it waiting for ever', async () => {
    const opening = WorkerRunner.open(model, bundle.net, bundle.outputName);
    // Ended while it boots, before it reaches the native load (ending that would abort the process).
    await terminateWorkers();
    await expect(within(opening, 'WorkerRunner.open')).rejects.toThrow(/the inference worker ended \(exit code \d+\) before its session opened/);
  });
});


describe('WorkerRunner when a run goes unanswered (runTimeoutMs)', () => {
  afterEach(async () => {
    unstallWorkers();
    hangWorkers(0);
    // A worker taken for stuck is left running (its runs swallowed by the stall, it idles): ended here, between tests.
    await terminateWorkers();
  });

  it('takes the worker for stuck after the timeout: the run and every later one are refused with InferenceUnavailableError, the stop reported once with why', async () => {
    // A timeout well above a default-bundle run (under a millisecond) on a machine loaded by the other test files.
    const { runner, stops } = await openRunner(1_000);
    // Runs answered well within the timeout, one after another for longer than it: no false alarm.
    const until = performance.now() + 1_500;
    while (performance.now() < until) expect(await runner.run(row(), 1)).toHaveLength(bundle.net.outputs.length);
    expect(stops).toEqual([]);

    stallWorkers();
    const stuck = runner.run(row(), 1);
    await expect(within(stuck, 'the unanswered run', 4_000)).rejects.toBeInstanceOf(InferenceUnavailableError);
    expect(stops).toHaveLength(1);
    expect(stops[0]!.exitCode).toBeUndefined();
    expect(stops[0]!.error?.message).toMatch(/^an ONNX run in the inference worker went unanswered for \d+ ms, beyond the inference timeout \(1000 ms\)/);
    await expect(within(runner.run(row(), 1), 'a run after the worker was taken for stuck')).rejects.toBeInstanceOf(InferenceUnavailableError);

    // The worker is left to its run, which the stall never lets it answer: the close that follows does not wait for it,
    // and reports nothing more.
    await within(runner.close(), 'close() after the worker was taken for stuck');
    expect(stops).toHaveLength(1);
  });

  it('reads an answer that came while the event loop was blocked beyond the timeout before judging: no false alarm', async () => {
    const { runner, stops } = await openRunner(700);
    expect(await runner.run(row(), 1)).toHaveLength(bundle.net.outputs.length);
    // The main thread busy for twice the timeout (a large body being parsed) right after posting: the worker answers
    // meanwhile (it has 1.5 s for a run of under a millisecond), and the watchdog's timer, due by then, runs in the
    // loop's next turn before the answer is read.
    const { answered } = await new Promise<{ answered: Promise<Float32Array> }>((resolve) =>
      setImmediate(() => {
        const run = runner.run(row(), 1);
        const until = performance.now() + 1_500;
        while (performance.now() < until);
        resolve({ answered: run });
      }),
    );
    expect(await within(answered, 'the run answered while the loop was blocked')).toHaveLength(bundle.net.outputs.length);
    expect(stops).toEqual([]);
    expect(await runner.run(row(), 1)).toHaveLength(bundle.net.outputs.length);
    await within(runner.close(), 'close()');
  });

  it('0: no timeout, a run waits as long as it takes', async () => {
    const { runner, stops } = await openRunner(0);
    stallWorkers();
    const waiting = runner.run(row(), 1);
    await expect(within(waiting, 'the unanswered run', 1_500)).rejects.toThrow('had not settled after 1500 ms');
    expect(stops).toEqual([]);
    unstallWorkers();
    // Its message never reached the worker, so nothing will answer it, and a close would wait for it: the worker is
    // ended as a crash would end it, which refuses the run.
    await terminateWorkers();
    await expect(waiting).rejects.toBeInstanceOf(InferenceUnavailableError);
    await within(runner.close(), 'close()');
  });

  it('a thread stuck in native code is left to its run, not terminated: close() does not wait for it, workerStuck() says so until it comes back, and it is ended then', async () => {
    const { runner, stops } = await openRunner(300);
    hangWorkers(3_000);
    const stuck = runner.run(row(), 1);
    await expect(within(stuck, 'the run stuck in native code', 3_000)).rejects.toBeInstanceOf(InferenceUnavailableError);
    expect(stops).toHaveLength(1);
    expect(workerStuck()).toBe(true);
    // The shutdown's close: terminate() would wait for the thread (for ever, were it stuck for good).
    await within(runner.close(), 'close() with the worker thread stuck in native code', 1_000);
    expect(workerStuck()).toBe(true);
    // The system call returns and the run is answered: the thread, idle again, is ended as the close would have ended
    // it, without harm and without a second report.
    await within(
      (async () => {
        while (workerStuck()) await new Promise((resolve) => setTimeout(resolve, 50));
      })(),
      'the thread to come back from its run',
      8_000,
    );
    await within(
      (async () => {
        while (runningWorkers() > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      })(),
      'the thread to be ended',
      2_000,
    );
    expect(stops).toHaveLength(1);
  });
});

describe('WorkerRunner on a queue of slow runs (runTimeoutMs)', () => {
  it('counts a run from when the worker can start it, not from its post: runs queued behind others are no hang', async () => {
    const { runner, stops } = await openRunner(1_000);
    // Each run holds the worker thread for 300 ms in a system call, as a large batch's run holds it, whatever the load on
    // the machine: eight posted at once, as concurrent /anomaly/batch requests post theirs, are answered at least 2.4 s
    // after their post (counted from it, the last ones would be taken for stuck), each 300 ms or a little more after
    // the run before it.
    hangWorkers(300);
    try {
      const count = 8;
      const started = performance.now();
      const answers = await Promise.all(Array.from({ length: count }, () => runner.run(row(), 1)));
      expect(answers.map((a) => a.length)).toEqual(Array<number>(count).fill(bundle.net.outputs.length));
      expect(performance.now() - started).toBeGreaterThan(2_000);
      expect(stops).toEqual([]);
    } finally {
      hangWorkers(0);
      await runner.close();
    }
  });
});
