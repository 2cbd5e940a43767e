import { readlinkSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { CaseCheckpoints, CHECKPOINT_SLICE_MS } from '../cases/case-checkpoints.js';
import { checkWritable, CaseStateFileError } from '../cases/case-state-file.js';
import type { CaseStore } from '../cases/case-store.js';
import { checkpointOpenCases, restoreOpenCases, saveOpenCases, type ServedModel } from '../cases/saved-cases.js';
import type { EvaluatorObserver, StreamingEvaluator } from '../cases/streaming-evaluator.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Writes the open cases to --case-state-file, once (later calls do nothing); nothing without one, nor when the cases
     * were restored and the start never succeeded (startedServing: the file is still there, whole). The app's close
     * calls it once requests are finished; `serve` calls it too when its shutdown times out before that. False when the
     * save failed (logged), so that the exit says so.
     */
    saveOpenCases(): boolean;
    /**
     * The start has succeeded: the close saves, and the checkpoints begin. Without checkpoints the file the cases were
     * restored from is removed (a start after a crash must not take them back again, closed since); with them it stays
     * until the first one replaces it (a crash before then takes back what it holds, the last state known). Called by
     * the API port's onListen, or, with `startsWithAdminListener`, by `serve` once the admin listener listens too.
     */
    startedServing(): void;
  }
}

export interface CaseStateOptions {
  store: CaseStore;
  evaluator: StreamingEvaluator;
  model: ServedModel;
  /** Told of each restored case (the live view makes its record of it). */
  observer: EvaluatorObserver | undefined;
  /** --case-state-file; '' none: the open cases are dropped at shutdown, with a warning. */
  stateFile: string;
  /** --case-state-checkpoint-interval, in milliseconds; 0 none (with a state file, only the shutdown saves). */
  checkpointIntervalMs: number;
  /**
   * `serve` opens an admin listener (--admin-port) after the API port: the start has not succeeded until it listens.
   * Its port in use would otherwise close a start that had already removed the file, and save only what it took back.
   */
  startsWithAdminListener: boolean;
}

/**
 * The open cases kept across a restart (--case-state-file): restored now, before the service listens, from the file
 * the last shutdown saved, and saved by `saveOpenCases`. Called by the cases plugin, which owns the store.
 */
export async function keepCasesAcrossRestarts(app: FastifyInstance, { store, evaluator, model, observer, stateFile: given, checkpointIntervalMs, startsWithAdminListener }: CaseStateOptions): Promise<void> {
  const stateFile = given === '' ? '' : throughLinks(given);
  if (stateFile !== given) app.log.info({ file: given, target: stateFile }, '--case-state-file is a symbolic link: the open cases are read from and saved to its target');
  /**
   * The cases were restored from the file and the start has not succeeded (startedServing): the file is as it was
   * read. A start that fails now (a port in use, the API's or the admin listener's) leaves it so: saving what was
   * taken back would lose what the restore left out (beyond --max-open-cases, or what another model does not read),
   * though the start that fixes the setting could take it.
   */
  let restoredUnserved = false;

  /** A file that cannot be read stops startup (CaseStateFileError). */
  const restoreFrom = async (file: string) => {
    try {
      checkWritable(file, checkpointIntervalMs > 0);
    } catch (error) {
      throw new CaseStateFileError(file, `cannot be written, and the open cases could not be saved at shutdown (${(error as Error).message})`, true);
    }
    const restored = await restoreOpenCases(file, store, model);
    if (restored === undefined) {
      app.log.info({ file }, 'no open cases to restore (no --case-state-file yet)');
      return;
    }
    for (const state of store.byRecency()) observer?.onRestored?.(state);
    const { header, overCapacity, unknownTransitions, attributesLeftOut, otherModel } = restored;
    app.log.info({ file, open_cases: restored.restored, saved_at: header.written_at }, 'open cases restored');
    if (overCapacity > 0) {
      app.log.warn({ file, left_out: overCapacity, max_open_cases: store.limits.maxOpenCases }, 'open cases left out at restore: more were saved than --max-open-cases (the least recently touched)');
    }
    if (otherModel || unknownTransitions.length > 0 || attributesLeftOut > 0) {
      app.log.warn(
        { file, saved_scenario: header.scenario, saved_model_sha256: header.model_sha256, unknown_transitions: unknownTransitions, attributes_left_out: attributesLeftOut },
        otherModel
          ? 'open cases restored were saved while serving another model: seen transitions are matched by id, attributes by name; what the model does not have is left out'
          : 'open cases restored without attributes this service does not keep (its specs do not read them, nor does --lane-attribute, which may have changed)',
      );
    }
    restoredUnserved = true;
  };

  if (stateFile !== '') await restoreFrom(stateFile);

  // After the restore: the checkpoints take the store's change count as what the file holds, the restored cases.
  const checkpoints = stateFile === '' || checkpointIntervalMs === 0 ? undefined : checkpointsTo(app, stateFile, store, evaluator, model, checkpointIntervalMs);

  let serving = false;
  app.decorate('startedServing', () => {
    if (serving) return;
    serving = true;
    if (restoredUnserved && checkpoints === undefined) {
      try {
        unlinkSync(stateFile);
      } catch (error) {
        app.log.warn({ file: stateFile, err: error }, 'open cases restored, but their file could not be removed: a start after a crash would restore them again');
      }
    }
    restoredUnserved = false;
    checkpoints?.start();
  });
  if (!startsWithAdminListener) app.addHook('onListen', async () => app.startedServing());

  const saveOnce = (): boolean => {
    if (restoredUnserved) {
      app.log.info({ file: stateFile }, 'open cases not saved: the start did not succeed, so the file they were restored from is left as it was');
      return true;
    }
    if (stateFile === '') {
      if (store.size > 0) app.log.warn({ open_cases: store.size, hint: '--case-state-file keeps them across a restart' }, 'open cases dropped at shutdown (streaming state is kept in memory)');
      return true;
    }
    // Called off first: renamed into place after this save, a checkpoint would put older cases over the newer ones.
    checkpoints?.stop();
    // After a shutdown that timed out, requests still run until the exit: what they change now is not in the file.
    evaluator.markSaved();
    // A close still under way has taken its case out of the store; its caller has no answer yet and will retry.
    const closing = evaluator.closesUnderWay();
    const cases = closing.length === 0 ? { open_cases: store.size } : { open_cases: store.size + closing.length, closes_under_way: closing.length };
    const started = performance.now();
    try {
      const bytes = saveOpenCases(stateFile, store, model, closing);
      app.log.info({ file: stateFile, ...cases, bytes, ms: Math.round(performance.now() - started) }, 'open cases saved');
      return true;
    } catch (error) {
      app.log.error({ file: stateFile, ...cases, err: error }, `open cases NOT saved: ${(error as Error).message}`);
      return false;
    }
  };
  let saved: boolean | undefined;
  app.decorate('saveOpenCases', () => (saved ??= saveOnce()));
}

/**
 * The file a --case-state-file path names, through symbolic links (a link into a volume), whether it exists yet or
 * not: the save and the checkpoints write beside the file and rename over it, and over the link itself they put a
 * regular file in the link's place, while the file on the volume stayed as it was, to be restored stale by a start
 * that followed the link again.
 */
function throughLinks(path: string): string {
  let current = path;
  // As many links as the kernel follows (40, ELOOP beyond): a loop is then refused by the restore's own read.
  for (let links = 0; links < 40; links++) {
    let target: string;
    try {
      target = readlinkSync(current);
    } catch {
      // Not a link (EINVAL), or nothing there yet (ENOENT): the file itself.
      return current;
    }
    current = resolve(dirname(current), target);
  }
  return current;
}

/** The checkpoints of the open cases to `file`, counted and logged. */
function checkpointsTo(app: FastifyInstance, file: string, store: CaseStore, evaluator: StreamingEvaluator, model: ServedModel, intervalMs: number): CaseCheckpoints {
  return new CaseCheckpoints(store, (cancelled) => checkpointOpenCases(file, store, model, () => evaluator.closesUnderWay(), { sliceMs: CHECKPOINT_SLICE_MS, cancelled }), intervalMs, {
    onWritten: (seconds, bytes, cases) => {
      app.metrics.caseCheckpoints.inc({ result: 'written' });
      app.metrics.caseCheckpointLastWritten.set(Date.now() / 1000);
      app.metrics.caseCheckpointDuration.set(seconds);
      app.log.debug({ file, open_cases: cases, bytes, ms: Math.round(seconds * 1000) }, 'open cases checkpointed');
    },
    onUnchanged: () => app.metrics.caseCheckpoints.inc({ result: 'unchanged' }),
    onFailed: (error) => {
      app.metrics.caseCheckpoints.inc({ result: 'failed' });
      app.log.warn({ file, err: error, next_in_s: intervalMs / 1000 }, `open cases NOT checkpointed: ${(error as Error).message}`);
    },
  });
}
