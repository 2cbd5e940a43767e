import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The node flags of `npm start` in the checkout at `root` (the image's too, which a test keeps equal). */
export function startScriptNodeFlags(root: string): string[] {
  return nodeFlagsOfStartScript((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start);
}

/**
 * The node options (`--…`) between `node` and the script in `exec node --a --b=1 dist/…`: package.json's start script
 * is where the service's node flags are written down, for the benchmark and for the test that holds the image to them.
 */
export function nodeFlagsOfStartScript(script: string): string[] {
  const words = script.split(/\s+/);
  const flags: string[] = [];
  for (const word of words.slice(words.indexOf('node') + 1)) {
    if (!word.startsWith('--')) break;
    flags.push(word);
  }
  return flags;
}
