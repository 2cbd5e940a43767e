import type { CsvDelimiter } from './types.js';

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

export interface ExactRows {
  rows: string[][];
  /** Line of each row, counted from 0 at the start of the input. */
  lines: number[];
  /** Characters of the input taken by complete rows and blank lines; the rest waits for more input. */
  consumed: number;
  /** Line breaks within the consumed characters. */
  consumedLines: number;
  /** Line (from 0) of the row whose quoted field is still open at the end of the final input. */
  unclosedQuoteLine?: number;
}

/**
 * The reader's CSV dialect, character by character, for the inputs where
 * papaparse would read differently (see csv-row-parser.ts): Python's csv
 * module in its default dialect, text after a closing quote included
 * (`"app"roved` is `approved`, `"0.4" ` is `0.4 `). Rows end at \r\n, \n or \r, mixed freely; blank lines are
 * dropped; `""` alone on a line is a row of one empty cell. Without `final`,
 * a row that the end of the input might still continue is left unconsumed,
 * and the input must not end in a \r, which may be half of a \r\n. Fields
 * are separated by `delimiter`, a comma unless told otherwise.
 */
export function parseRowsExactly(input: string, final: boolean, delimiter: CsvDelimiter = ','): ExactRows {
  const delim = delimiter.charCodeAt(0);
  const rows: string[][] = [];
  const lines: number[] = [];
  const end = input.length;
  let pos = 0;
  let line = 0;
  let consumed = 0;
  let consumedLines = 0;
  const done = (): ExactRows => ({ rows, lines, consumed, consumedLines });

  while (pos < end) {
    if (isLineBreak(input.charCodeAt(pos))) {
      pos = afterLineBreak(input, pos);
      line += 1;
      consumed = pos;
      consumedLines = line;
      continue;
    }
    const rowLine = line;
    const cells: string[] = [];
    for (;;) {
      let fieldEnd: number;
      if (input.charCodeAt(pos) === QUOTE) {
        const close = closingQuote(input, pos + 1);
        // A quote as the last character may still be the first half of a "" in the next chunk.
        if (close === -1 || (close === end - 1 && !final)) {
          return final && close === -1 ? { ...done(), unclosedQuoteLine: rowLine } : done();
        }
        const value = unescape(input.slice(pos + 1, close));
        line += countLineBreaks(input, pos + 1, close);
        if (close + 1 === end || isFieldEnd(input.charCodeAt(close + 1), delim)) {
          cells.push(value);
          fieldEnd = close + 1;
        } else {
          // Python's csv (not strict): the field goes on unquoted after its quoted part, the quotes dropped.
          fieldEnd = unquotedEnd(input, close + 1, delim);
          if (fieldEnd === end && !final) return done();
          cells.push(value + input.slice(close + 1, fieldEnd));
        }
      } else {
        fieldEnd = unquotedEnd(input, pos, delim);
        if (fieldEnd === end && !final) return done();
        cells.push(input.slice(pos, fieldEnd));
      }
      if (fieldEnd < end && input.charCodeAt(fieldEnd) === delim) {
        pos = fieldEnd + 1;
        continue;
      }
      rows.push(cells);
      lines.push(rowLine);
      if (fieldEnd === end) return { rows, lines, consumed: end, consumedLines: line };
      pos = afterLineBreak(input, fieldEnd);
      line += 1;
      consumed = pos;
      consumedLines = line;
      break;
    }
  }
  return done();
}

function isLineBreak(code: number): boolean {
  return code === LF || code === CR;
}

function isFieldEnd(code: number, delim: number): boolean {
  return code === delim || code === LF || code === CR;
}

/** Position after the line break at `at`; \r\n is one break. */
function afterLineBreak(input: string, at: number): number {
  return input.charCodeAt(at) === CR && input.charCodeAt(at + 1) === LF ? at + 2 : at + 1;
}

/** The quote closing a field whose text starts at `from`, past doubled quotes; -1 if there is none. */
function closingQuote(input: string, from: number): number {
  let at = input.indexOf('"', from);
  while (at !== -1 && input.charCodeAt(at + 1) === QUOTE) at = input.indexOf('"', at + 2);
  return at;
}

function unquotedEnd(input: string, from: number, delim: number): number {
  let at = from;
  while (at < input.length && !isFieldEnd(input.charCodeAt(at), delim)) at++;
  return at;
}

function unescape(quoted: string): string {
  return quoted.includes('"') ? quoted.replaceAll('""', '"') : quoted;
}

export function countLineBreaks(input: string, from: number, to: number): number {
  let count = 0;
  for (let at = from; at < to; at++) {
    const code = input.charCodeAt(at);
    if (code === LF || (code === CR && input.charCodeAt(at + 1) !== LF)) count++;
  }
  return count;
}
