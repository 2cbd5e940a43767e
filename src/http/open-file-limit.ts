import { readFileSync } from 'node:fs';

/**
 * The most files this process may have open (its soft RLIMIT_NOFILE, which Node raises to the hard limit as it
 * starts), from /proc/self/limits: Node has no call for it. Undefined where there is no such file (not Linux) or no
 * number in it (unlimited).
 */
export function openFileLimit(): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const soft = /^Max open files\s+(\d+)\s/m.exec(text)?.[1];
  return soft === undefined ? undefined : Number(soft);
}
