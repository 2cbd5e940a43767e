/** Terminates every worker thread still running; resolves to their number once they have ended. */
export function terminateWorkers(): Promise<number>;
/** From now on (until unstallWorkers) no message reaches a worker thread: its runs go unanswered, as if stuck. */
export function stallWorkers(): void;
export function unstallWorkers(): void;
/** From now on each run posted blocks its worker thread for `ms` in native code, beyond terminate()'s reach (0: no more). */
export function hangWorkers(ms: number): void;
/** How many worker threads are running (started and not yet exited). */
export function runningWorkers(): number;
