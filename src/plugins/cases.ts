import { unlinkSync } from 'node:fs';
import fp from 'fastify-plugin';
import { checkWritable, CaseStateFileError } from '../cases/case-state-file.js';
import { CaseStore, type CaseLimits } from '../cases/case-store.js';
import { restoreOpenCases, saveOpenCases } from '../cases/saved-cases.js';
import { StreamingEvaluator, type EvaluatorObserver } from '../cases/streaming-evaluator.js';
import { InferenceUnavailableError } from '../inference/inference-unavailable.js';
import { specAttributes } from '../scoring/net.js';

declare module 'fastify' {
  interface FastifyInstance {
    cases: StreamingEvaluator;
    scoreEveryEvent: boolean;
    /**
     * Writes the open cases to --case-state-file, once (later calls do nothing); nothing without one, nor when the cases
     * were restored and the start never succeeded (startedServing: the file is still there, whole). The app's close
     * calls it once requests are finished; `serve` calls it too when its shutdown times out before that. False when the
     * save failed (logged), so that the exit says so.
     */
    saveOpenCases(): boolean;
    /**
     * The start has succeeded: the file the cases were restored from is removed (a start after a crash must not take
     * them back again), and the close saves. Called by the API port's onListen, or, with `startsWithAdminListener`, by
     * `serve` once the admin listener listens too.
     */
    startedServing(): void;
  }
}

export interface CasesPluginOptions extends CaseLimits {
  scoreEveryEvent: boolean;
  /** Ended case ids remembered: a repeated close answers again, a request for an ended case is told how it ended. */
  endedCaseMemory: number;
  /** A repeated close answers the final evaluation again (not PETRA, which answers None: a 404). */
  repeatClose: boolean;
  /** How often idle cases are looked for; defaults to a tenth of the idle timeout, at most once a minute. */
  sweepIntervalMs?: number;
  /** The case attribute the live view takes a case's lane from ('' none): a case keeps it beside what the specs read. */
  laneAttribute: string;
  /** Told of every event, evaluation and eviction (the live view); synchronous, must not throw. */
  observer?: EvaluatorObserver;
  /** Where the open cases are saved at shutdown and read back at startup ('' nowhere: they are dropped). */
  stateFile: string;
  /**
   * `serve` opens an admin listener (--admin-port) after the API port: the start has not succeeded until it listens.
   * Its port in use would otherwise close a start that had already removed the file, and save only what it took back.
   */
  startsWithAdminListener: boolean;
}

/** Idle cases evicted per turn of the event loop. */
const SWEEP_SLICE = 2_000;

/** The per-case streaming state, its idle sweep, and the log lines of its evictions. */
export const casesPlugin = fp<CasesPluginOptions>(
  async (app, options) => {
    // One line per eviction only at debug: at a limit every new case (or every new attribute) evicts one, and an idle
    // sweep can evict hundreds of thousands at once. Evictions at a limit are summed into one info line per ten
    // seconds for each limit.
    const atLimit = { capacity: 0, attribute_capacity: 0 };
    const logsEach = app.log.level === 'debug' || app.log.level === 'trace';
    const limitLog = setInterval(() => {
      if (atLimit.capacity > 0) {
        app.log.info({ reason: 'capacity', evicted: atLimit.capacity, max_open_cases: options.maxOpenCases }, 'cases evicted for capacity in the last 10 s (--max-open-cases)');
      }
      if (atLimit.attribute_capacity > 0) {
        app.log.info(
          { reason: 'attribute_capacity', evicted: atLimit.attribute_capacity, max_attribute_chars: options.maxAttributeChars },
          "cases evicted in the last 10 s because the open cases' attributes reached --max-attribute-chars",
        );
      }
      atLimit.capacity = 0;
      atLimit.attribute_capacity = 0;
    }, 10_000);
    limitLog.unref();
    const kept = new Set(specAttributes(app.petra.net));
    if (options.laneAttribute !== '') kept.add(options.laneAttribute);
    const store = new CaseStore(app.petra.net.outputs.length, kept, options, {
      onEvict: (caseId, state, reason) => {
        app.metrics.caseEvictions.inc({ reason });
        if (reason === 'capacity' || reason === 'attribute_capacity') atLimit[reason]++;
        if (logsEach) app.log.debug({ case_id: caseId, reason, n_events: state.nEvents }, 'case evicted');
        // The evaluator tells the observer, after any evaluation of the case still under way.
        evaluator.evicted(caseId, state, reason);
      },
    });
    const model = { net: app.petra.net, modelSha256: app.petra.bundle.modelSha256 };
    const evaluator = new StreamingEvaluator(store, app.petra.scorer, options.observer, options.endedCaseMemory, options.repeatClose);
    /**
     * The cases were restored from the file and the start has not succeeded (startedServing): the file is as it was
     * read. A start that fails now (a port in use, the API's or the admin listener's) leaves it so: saving what was
     * taken back would lose what the restore left out (beyond --max-open-cases, or what another model does not read),
     * though the start that fixes the setting could take it.
     */
    let restoredUnserved = false;
    /**
     * Takes back the cases the last shutdown saved. The file stays until the start has succeeded: a start that fails
     * before (a port in use) leaves it for the next one. A file that cannot be read stops startup (CaseStateFileError).
     */
    const restoreFrom = async (file: string) => {
      try {
        checkWritable(file);
      } catch (error) {
        throw new CaseStateFileError(file, `cannot be written, and the open cases could not be saved at shutdown (${(error as Error).message})`, true);
      }
      const restored = await restoreOpenCases(file, store, model);
      if (restored === undefined) {
        app.log.info({ file }, 'no open cases to restore (no --case-state-file yet)');
        return;
      }
      for (const state of store.byRecency()) options.observer?.onRestored?.(state);
      const { header, overCapacity, unknownTransitions, attributesLeftOut, otherModel } = restored;
      app.log.info({ file, open_cases: restored.restored, saved_at: header.written_at }, 'open cases restored');
      if (overCapacity > 0) app.log.warn({ file, left_out: overCapacity, max_open_cases: options.maxOpenCases }, 'open cases left out at restore: more were saved than --max-open-cases (the least recently touched)');
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
    app.decorate('startedServing', () => {
      if (!restoredUnserved) return;
      restoredUnserved = false;
      try {
        unlinkSync(options.stateFile);
      } catch (error) {
        app.log.warn({ file: options.stateFile, err: error }, 'open cases restored, but their file could not be removed: a start after a crash would restore them again');
      }
    });
    if (!options.startsWithAdminListener) app.addHook('onListen', async () => app.startedServing());
    // A close would take its case out of the store and then fail its model run: the case would be lost to the restart.
    app.onFailure((error) => {
      if (error instanceof InferenceUnavailableError) evaluator.modelUnavailable(error);
    });
    app.decorate('cases', evaluator);
    app.metrics.openCases.readFrom(() => evaluator.openCases);
    app.metrics.maxOpenCases.set(options.maxOpenCases);
    app.metrics.caseAttributeChars.readFrom(() => store.attributeChars);
    app.metrics.maxCaseAttributeChars.set(options.maxAttributeChars);
    app.decorate('scoreEveryEvent', options.scoreEveryEvent);
    let saved: boolean | undefined;
    const save = (): boolean => {
      saved ??= saveOnce();
      return saved;
    };
    const saveOnce = (): boolean => {
      if (restoredUnserved) {
        app.log.info({ file: options.stateFile }, 'open cases not saved: the start did not succeed, so the file they were restored from is left as it was');
        return true;
      }
      if (options.stateFile === '') {
        if (store.size > 0) app.log.warn({ open_cases: store.size, hint: '--case-state-file keeps them across a restart' }, 'open cases dropped at shutdown (streaming state is kept in memory)');
        return true;
      }
      // After a shutdown that timed out, requests still run until the exit: what they change now is not in the file.
      evaluator.markSaved();
      const started = performance.now();
      try {
        const bytes = saveOpenCases(options.stateFile, store, model);
        app.log.info({ file: options.stateFile, open_cases: store.size, bytes, ms: Math.round(performance.now() - started) }, 'open cases saved');
        return true;
      } catch (error) {
        app.log.error({ file: options.stateFile, open_cases: store.size, err: error }, `open cases NOT saved: ${(error as Error).message}`);
        return false;
      }
    };
    app.decorate('saveOpenCases', save);
    if (options.stateFile !== '') await restoreFrom(options.stateFile);
    app.addHook('onClose', async () => {
      clearInterval(limitLog);
      save();
    });
    if (options.idleTimeoutMs > 0) {
      const interval = options.sweepIntervalMs ?? Math.min(60_000, Math.max(100, Math.floor(options.idleTimeoutMs / 10)));
      // In slices of SWEEP_SLICE evictions, each in its own turn of the event loop, so requests go on between them.
      let sweeping = false;
      let stopped = false;
      let swept = 0;
      const sweep = () => {
        if (stopped) return;
        const evicted = store.sweepIdle(SWEEP_SLICE);
        swept += evicted;
        if (evicted === SWEEP_SLICE) {
          setImmediate(sweep);
          return;
        }
        if (swept > 0) app.log.info({ reason: 'idle', evicted: swept, idle_timeout_s: options.idleTimeoutMs / 1000 }, 'idle cases evicted (--case-idle-timeout)');
        swept = 0;
        sweeping = false;
      };
      const timer = setInterval(() => {
        if (sweeping) return;
        sweeping = true;
        sweep();
      }, interval);
      timer.unref();
      app.addHook('onClose', async () => {
        stopped = true;
        clearInterval(timer);
      });
    }
  },
  { name: 'cases', dependencies: ['lifecycle', 'petra', 'metrics'] },
);
