import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Tests run without --expose-gc; a new context made after the flag is set gets `gc`.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A full garbage collection now: what a busy server does on its own, at a moment a test chooses. */
export function collectGarbage(): void {
  gc();
}
