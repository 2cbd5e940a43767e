/** Terminates every worker thread still running; resolves to their number once they have ended. */
export function terminateWorkers(): Promise<number>;
