import fp from 'fastify-plugin';
import { CaseStore, type CaseLimits } from '../cases/case-store.js';
import { StreamingEvaluator, type EvaluatorObserver } from '../cases/streaming-evaluator.js';

declare module 'fastify' {
  interface FastifyInstance {
    cases: StreamingEvaluator;
    scoreEveryEvent: boolean;
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
  /** Told of every event, evaluation and eviction (the live view); synchronous, must not throw. */
  observer?: EvaluatorObserver;
}

/** The per-case streaming state, its idle sweep, and the log line for every eviction. */
export const casesPlugin = fp<CasesPluginOptions>(
  async (app, options) => {
    const store = new CaseStore(app.petra.net.outputs.length, options, {
      onEvict: (caseId, state, reason) => {
        app.metrics.caseEvictions.inc({ reason });
        app.log.info({ case_id: caseId, reason, n_events: state.nEvents }, 'case evicted');
        // The evaluator tells the observer, after any evaluation of the case still under way.
        evaluator.evicted(caseId, state, reason);
      },
    });
    const evaluator = new StreamingEvaluator(store, app.petra.scorer, options.observer, options.endedCaseMemory, options.repeatClose);
    app.decorate('cases', evaluator);
    app.decorate('scoreEveryEvent', options.scoreEveryEvent);
    app.addHook('onClose', async () => {
      if (store.size > 0) app.log.warn({ open_cases: store.size }, 'open cases dropped at shutdown (streaming state is kept in memory)');
    });
    if (options.idleTimeoutMs > 0) {
      const interval = options.sweepIntervalMs ?? Math.min(60_000, Math.max(100, Math.floor(options.idleTimeoutMs / 10)));
      const timer = setInterval(() => store.sweepIdle(), interval);
      timer.unref();
      app.addHook('onClose', async () => clearInterval(timer));
    }
  },
  { name: 'cases', dependencies: ['petra', 'metrics'] },
);
