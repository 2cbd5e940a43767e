import { basename } from 'node:path';
import { LogInputError } from './errors.js';
import type { LogFormat } from './types.js';

/** PETRA's `_guess_format`: by file-name suffix, case-insensitive. */
export function detectFormat(path: string): LogFormat {
  const name = basename(path).toLowerCase();
  if (name.endsWith('.xes') || name.endsWith('.xes.gz')) return 'xes';
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.json')) return 'json';
  throw new LogInputError(
    path,
    'cannot tell the log format from the file name; expected a name ending in .xes, .xes.gz, .csv or .json (or give the format explicitly: xes, csv or json)',
  );
}

/**
 * PETRA gunzips only XES and only for a lower-case `.gz` suffix; accepting any
 * case and any format costs nothing and fails on nothing PETRA accepts.
 */
export function isGzipped(path: string): boolean {
  return basename(path).toLowerCase().endsWith('.gz');
}
