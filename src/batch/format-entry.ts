import { dumpsFloat, dumpsPython, pythonString } from './python-json.js';
import type { ReportEntry } from './score-log.js';

const quotedKeys = new Map<string, string>();

function quoted(key: string): string {
  let text = quotedKeys.get(key);
  if (text === undefined) {
    text = pythonString(key);
    quotedKeys.set(key, text);
  }
  return text;
}

/**
 * One report entry exactly as petra-score's `json.dumps(results, indent=2, sort_keys=True)` lays it out as an element
 * of the top-level list (`pretty`), or compact for NDJSON. Written by hand because it is the hot path of batch
 * scoring: residual keys arrive in sorted-id order already (scoreRow's order), which is Python's key order.
 */
export function formatEntry(entry: ReportEntry, pretty: boolean): string {
  const attributes = dumpsPython(entry.attributes, pretty ? 2 : undefined, 2);
  const [open, sep, close, innerOpen, innerSep, innerClose] = pretty
    ? ['{\n    ', ',\n    ', '\n  }', '{\n      ', ',\n      ', '\n    }']
    : ['{', ', ', '}', '{', ', ', '}'];
  if ('error' in entry) {
    return `${open}"attributes": ${attributes}${sep}"error": ${pythonString(entry.error)}${sep}"trace_index": ${entry.index}${close}`;
  }
  let residuals = '';
  for (const key in entry.score.per_transition_residuals) {
    residuals += `${residuals === '' ? innerOpen : innerSep}${quoted(key)}: ${dumpsFloat(entry.score.per_transition_residuals[key]!)}`;
  }
  residuals = residuals === '' ? '{}' : residuals + innerClose;
  return `${open}"attributes": ${attributes}${sep}"per_transition_residuals": ${residuals}${sep}"trace_index": ${entry.index}${sep}"trace_score": ${dumpsFloat(entry.score.trace_score)}${close}`;
}
