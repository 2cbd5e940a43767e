import { EXIT } from './exit-codes.js';

/*
 * A standard stream that cannot be written emits 'error', and one that nothing handles ends the process with a stack
 * trace and exit 1: after a run that worked, for a summary line that found stderr closed or full.
 */

/**
 * stdout's reader gone (`petrascore inspect big.onnx | head`) ends the command quietly, exit 0, like the other tools of
 * a pipeline; stdout full or broken (`> /dev/full`) is said on stderr, exit 1. For commands whose stdout is their
 * answer (`score` handles its report's own).
 */
export function quietWhenStdoutCloses(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') process.stderr.write(`petrascore: cannot write stdout: ${error.message}\n`);
    process.exit(error.code === 'EPIPE' ? EXIT.ok : EXIT.failure);
  });
}

/**
 * stderr that cannot be written loses its messages, not the run: the exit code stays the command's (a report written
 * and renamed into place is no failure because its summary line found stderr closed). Nothing is left to tell.
 */
export function carryOnWhenStderrFails(): void {
  process.stderr.on('error', () => {});
}
