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
  }
  return message;
}
