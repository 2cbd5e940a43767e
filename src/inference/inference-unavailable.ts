/**
 * How the inference worker ended when nobody asked it to: its exit code, and the error it threw if it threw one; or,
 * for a worker that stopped answering (a run beyond the inference timeout), that error and no exit code: a thread stuck
 * in native code may never exit.
 */
export interface WorkerStop {
  exitCode?: number;
  error?: Error;
}

/**
 * The inference worker stopped on its own, so no run can happen any more in this process: callers answer 503, and the
 * service shuts down to be restarted. Not RunnerClosedError: that is a shutdown someone asked for, this is a fault.
 */
export class InferenceUnavailableError extends Error {
  constructor() {
    super('the inference worker stopped; this instance can no longer score and must be restarted; send the request to another instance');
    this.name = 'InferenceUnavailableError';
  }
}
