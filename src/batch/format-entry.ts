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
 * scoring.
 */
export function formatEntry(entry: ReportEntry, pretty: boolean): string {
  const attributes = dumpsPython(entry.attributes, pretty ? 2 : undefined, 2);
  const [open, sep, close, innerOpen, innerSep, innerClose] = pretty
    ? ['{\n    ', ',\n    ', '\n  }', '{\n      ', ',\n      ', '\n    }']
    : ['{', ', ', '}', '{', ', ', '}'];
  if ('error' in entry) {
    return `${open}"attributes": ${attributes}${sep}"error": ${pythonString(entry.error)}${sep}"trace_index": ${entry.index}${close}`;
  }
  const { score } = entry;
  let residuals = '';
  // Sorted ids (Python's sort_keys), walked from the row: an id-keyed object would list integer-like ids ("9", "10")
  // first, in numeric order.
  for (const column of score.net.scoreOrder) {
    residuals += `${residuals === '' ? innerOpen : innerSep}${quoted(score.net.outputs[column]!)}: ${dumpsFloat(score.residualAt(column))}`;
  }
  residuals = residuals === '' ? '{}' : residuals + innerClose;
  return `${open}"attributes": ${attributes}${sep}"per_transition_residuals": ${residuals}${sep}"trace_index": ${entry.index}${sep}"trace_score": ${dumpsFloat(score.trace_score)}${close}`;
}
