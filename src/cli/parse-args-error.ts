import { editDistance } from '../config/edit-distance.js';

/**
 * node:util parseArgs' error as a usage line: Node's own text for an unknown option ends in an unbalanced quote
 * (`as in '-- "--bogus"`) and names no option that exists. `flags` are the command's options, without their dashes.
 */
export function parseArgsProblem(error: unknown, flags: readonly string[]): string {
  const { code, message } = error as { code?: string; message: string };
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /^Unknown option '([^']+)'/.exec(message)?.[1];
    if (option === undefined) return message;
    const name = option.replace(/^-+/, '');
    // Near enough to be a slip of the keyboard (two edits), not another word.
    const nearest = flags.map((flag) => ({ flag, distance: editDistance(name, flag) })).sort((a, b) => a.distance - b.distance)[0];
    const hint = nearest !== undefined && nearest.distance <= 2 ? `; did you mean --${nearest.flag}?` : '';
    return `unknown option ${option}${hint}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const missing = /^Option '(-[^ ']+)(?:, (--[^ ']+))? <value>' argument missing/.exec(message);
    if (missing !== null) return `${missing[2] ?? missing[1]} needs a value`;
    // `--port -1`: Node's three lines (`argument is ambiguous. Did you forget…`) as one, with the way to write it.
    const ambiguous = /^Option '(-[^ ']+)' argument is ambiguous/.exec(message)?.[1];
    if (ambiguous !== undefined) {
      const long = /use '(--[^=' ]+)=-XYZ'/.exec(message)?.[1] ?? ambiguous;
      return `${ambiguous} needs a value, and the next argument begins with a dash; give a value that does so as ${long}=VALUE`;
    }
    // A flag given a value (`--repeat-close=yes`): it is on by being there; serve's flags have a --no- form to turn off.
    const flag = /^Option '(--[^ ']+)' does not take an argument/.exec(message)?.[1];
    if (flag !== undefined) {
      const negated = flags.includes(`no-${flag.slice(2)}`) ? ` (or --no-${flag.slice(2)} to turn it off)` : '';
      return `${flag} takes no value: give ${flag} alone${negated}`;
    }
  }
  return message;
}

/** What repeatedOption reads of parseArgs' tokens (`tokens: true`). */
interface OptionToken {
  kind: string;
  name?: string;
  rawName?: string;
  value?: string | undefined;
}

/**
 * A single-valued option given twice, as a usage line: parseArgs keeps the last one silently, which hides a mistake
 * (`--traces a.csv --traces b.csv` scores b.csv alone). Options that take several values and flags are not counted.
 */
export function repeatedOption(tokens: readonly OptionToken[], options: Readonly<Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>>): string | undefined {
  const seen = new Map<string, OptionToken>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined) continue;
    const option = options[token.name];
    if (option === undefined || option.type !== 'string' || option.multiple === true) continue;
    const earlier = seen.get(token.name);
    if (earlier !== undefined) return `--${token.name} given twice (${JSON.stringify(earlier.value ?? '')} and ${JSON.stringify(token.value ?? '')}); give it once`;
    seen.set(token.name, token);
  }
  return undefined;
}
