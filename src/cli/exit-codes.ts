/**
 * Every exit code the commands use, in one place (the README lists them per command). A usage error and a bad input
 * share 2 in serve, score and inspect: a script branches on success, and the message says what was wrong. validate
 * alone gives a bundle that cannot be served its own code, 1, since telling it from a usage error is its purpose.
 */
export const EXIT = {
  ok: 0,
  /** An unexpected failure, a service that failed or timed out at shutdown, or a bundle validate refuses. */
  failure: 1,
  /** A usage error, or input that cannot be used: a bad bundle, log, output path, port or host. */
  usage: 2,
  /** score: the report is written, but more traces than --max-error-rate carry errors. */
  tooManyErrors: 3,
} as const;

