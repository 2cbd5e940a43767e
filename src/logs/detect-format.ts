import { basename } from 'node:path';
import { LogInputError } from './errors.js';
import type { LogFormat } from './types.js';

/**
 * PETRA's `_guess_format`: by file-name suffix, case-insensitive. PETRA knows `.xes.gz` only; any format may be
 * gzipped here (`isGzipped`), so `.csv.gz` and `.json.gz` are recognised too.
 */
export function detectFormat(path: string): LogFormat {
  const name = basename(path).toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.xes')) return 'xes';
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.json')) return 'json';
  throw new LogInputError(
    path,
    'cannot tell the log format from the file name; expected a name ending in .xes, .csv or .json, each optionally followed by .gz (or give the format explicitly: xes, csv or json)',
  );
}

/**
 * PETRA gunzips only XES and only for a lower-case `.gz` suffix; accepting any
 * case and any format costs nothing and fails on nothing PETRA accepts.
 */
export function isGzipped(path: string): boolean {
  return basename(path).toLowerCase().endsWith('.gz');
}
