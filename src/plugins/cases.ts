import fp from 'fastify-plugin';
import { CaseStore, type CaseLimits } from '../cases/case-store.js';
import { StreamingEvaluator, type EvaluatorObserver } from '../cases/streaming-evaluator.js';
import { InferenceUnavailableError } from '../inference/inference-unavailable.js';
import { specAttributes } from '../scoring/net.js';
import { keepCasesAcrossRestarts, type CaseStateOptions } from './case-state.js';

declare module 'fastify' {
  interface FastifyInstance {
    cases: StreamingEvaluator;
    scoreEveryEvent: boolean;
  }
}

export interface CasesPluginOptions extends CaseLimits, Pick<CaseStateOptions, 'stateFile' | 'checkpointIntervalMs' | 'startsWithAdminListener'> {
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
}

/** Idle cases evicted per turn of the event loop. */
const SWEEP_SLICE = 2_000;

/** The per-case streaming state, its idle sweep, the log lines of its evictions, and its keeping across restarts. */
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
    const observer: EvaluatorObserver = {
      ...options.observer,
      // A close that failed and could not put its case back has dropped it unscored: an eviction, as the feed says.
      onCloseFailed: (caseId, state, reinstated) => {
        if (!reinstated) app.metrics.caseEvictions.inc({ reason: 'close_failed' });
        options.observer?.onCloseFailed?.(caseId, state, reinstated);
      },
    };
    const evaluator = new StreamingEvaluator(store, app.petra.scorer, observer, options.endedCaseMemory, options.repeatClose);
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
    await keepCasesAcrossRestarts(app, {
      store,
      evaluator,
      model: { net: app.petra.net, modelSha256: app.petra.bundle.modelSha256 },
      observer: options.observer,
      stateFile: options.stateFile,
      checkpointIntervalMs: options.checkpointIntervalMs,
      startsWithAdminListener: options.startsWithAdminListener,
    });
    app.addHook('onClose', async () => {
      clearInterval(limitLog);
      app.saveOpenCases();
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
      const startSweep = () => {
        if (sweeping) return;
        sweeping = true;
        sweep();
      };
      const timer = setInterval(startSweep, interval);
      timer.unref();
      // Cases restored from --case-state-file idled through the downtime too: those past the timeout go now, not at
      // the first tick, up to a minute into serving.
      startSweep();
      app.addHook('onClose', async () => {
        stopped = true;
        clearInterval(timer);
      });
    }
  },
  { name: 'cases', dependencies: ['lifecycle', 'petra', 'metrics'] },
);
