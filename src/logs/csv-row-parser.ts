import Papa from 'papaparse';
import { parseRowsExactly } from './csv-exact-rows.js';
import { LogInputError } from './errors.js';
import type { CsvDelimiter } from './types.js';

/** The rows parsed from one piece of input. */
export interface RowBatch {
  readonly rows: readonly string[][];
  /** Whether `['']` is a blank line to skip; the exact parser drops blank lines itself, and its `['']` is a lone `""`. */
  readonly blankLines: boolean;
  /** What stops the input after these rows, which still count. */
  readonly error: LogInputError | undefined;
  /** Line on which a row starts (1-based); worked out only when asked, for error messages. */
  lineOf(index: number): number;
}

type LineBreak = '\n' | '\r\n' | '\r';

interface Parsed {
  batch: PapaRows | ExactRows;
  /** Characters taken by complete rows, and the line breaks among them. */
  consumed: number;
  consumedLines: number;
}

/** What Papa.Parser#parse returns; its declaration says any. */
interface PapaResult {
  data: string[][];
  errors: Array<{ code: string; row?: number }>;
  meta: { cursor: number };
}

// A closing quote followed by white space (papaparse drops the space; Python's csv keeps it), or a lone
// `""` row (papaparse's [''] would pass for a blank line). Harmless matches, e.g. `" x"`, only cost a slower parse.
const PAPA_DIFFERS = /"[^\S\r\n]|(?:^|[\r\n])""(?:[\r\n]|$)/;
// The same with a tab as the delimiter: a tab after a closing quote then ends the field in both parsers, and matching
// it would send every quoted tab-separated file to the slower parser. White space before the tab still differs.
const PAPA_DIFFERS_TAB = /"[^\S\r\n\t]|(?:^|[\r\n])""(?:[\r\n]|$)/;
const LONE_CR_OR_LF = /\r(?!\n)|(?<!\r)\n/;

/**
 * Turns decoded text, piece by piece, into rows. papaparse does the parsing:
 * given the file's line break it splits quote-free text with String.split and
 * walks quoted text with indexOf, several times faster than csv-parse. Where
 * it would read differently from Python's csv module (a line break other than the file's first one, white space or
 * text after a closing quote, a lone `""` row), the piece goes to
 * parseRowsExactly instead, which reads any input, more slowly. Every call
 * parses from the start of the first incomplete row, so the two can alternate.
 */
export class CsvRowParser {
  private papa: Papa.Parser | undefined;
  private lineBreak: LineBreak | undefined;
  /** Input not yet taken by complete rows, and the line it starts on. */
  private rest = '';
  private restLine = 1;
  private pending: string[] = [];
  private pendingChars = 0;
  private readonly papaDiffers: RegExp;

  constructor(
    private readonly file: string,
    private readonly maxRowChars: number,
    private readonly delimiter: CsvDelimiter = ',',
  ) {
    this.papaDiffers = delimiter === '\t' ? PAPA_DIFFERS_TAB : PAPA_DIFFERS;
  }

  push(text: string): RowBatch {
    this.pending.push(text);
    this.pendingChars += text.length;
    // A row spanning many pieces would be parsed again from its start for every piece; waiting until the new text
    // is a fair share of it keeps a long row linear.
    if (this.pendingChars * 4 < this.rest.length) return new NoRows(this.tooLong(this.rest.length + this.pendingChars));
    return this.take(false);
  }

  end(): RowBatch {
    return this.take(true);
  }

  private take(final: boolean): RowBatch {
    let input = this.rest + (this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join(''));
    this.pending = [];
    this.pendingChars = 0;
    // A \r at the end may be the first half of a \r\n.
    const held = !final && input.endsWith('\r') ? '\r' : '';
    if (held) input = input.slice(0, -1);
    this.lineBreak ??= firstLineBreak(input, final);
    if (this.lineBreak === undefined) {
      this.rest = input + held;
      return new NoRows(this.tooLong(this.rest.length));
    }
    const parsed = this.viaPapa(input, this.lineBreak, final) ?? this.exactly(input, final);
    this.rest = input.slice(parsed.consumed) + held;
    this.restLine += parsed.consumedLines;
    parsed.batch.error ??= this.tooLong(this.rest.length);
    return parsed.batch;
  }

  /** papaparse's rows, or undefined where they would differ from parseRowsExactly's. */
  private viaPapa(input: string, lineBreak: LineBreak, final: boolean): Parsed | undefined {
    const quoted = input.includes('"');
    if (!hasOnlyLineBreak(input, lineBreak) || (quoted && this.papaDiffers.test(input))) return undefined;
    this.papa ??= new Papa.Parser({ delimiter: this.delimiter, newline: lineBreak, quoteChar: '"' });
    const result = this.papa.parse(input, 0, !final) as PapaResult;
    // Text after a closing quote; papaparse would search on for another quote to end the field.
    if (result.errors.some((error) => error.code === 'InvalidQuotes')) return undefined;
    const breakChar = !quoted ? undefined : lineBreak === '\r' ? '\r' : '\n';
    const batch = new PapaRows(result.data, this.restLine, breakChar);
    const unclosed = result.errors.find((error) => error.code === 'MissingQuotes')?.row;
    if (unclosed !== undefined) {
      batch.error = this.unclosedQuote(batch.lineOf(unclosed));
      // papaparse returns the unfinished row too, with the rest of the file as its last cell.
      result.data.length = unclosed;
    }
    const consumed = final ? input.length : result.meta.cursor;
    // Quote-free text has one row per line, blank lines included.
    const consumedLines = breakChar ? countChar(input, breakChar, consumed) : result.data.length;
    return { batch, consumed, consumedLines };
  }

  private exactly(input: string, final: boolean): Parsed {
    const exact = parseRowsExactly(input, final, this.delimiter);
    const batch = new ExactRows(exact.rows, exact.lines, this.restLine);
    if (exact.unclosedQuoteLine !== undefined) batch.error = this.unclosedQuote(this.restLine + exact.unclosedQuoteLine);
    return { batch, consumed: exact.consumed, consumedLines: exact.consumedLines };
  }

  private unclosedQuote(line: number): LogInputError {
    return new LogInputError(this.file, `a quoted field in the row starting on line ${line} is never closed (end of file reached); expected a closing "`, {
      line,
    });
  }

  private tooLong(chars: number): LogInputError | undefined {
    if (chars <= this.maxRowChars) return undefined;
    return new LogInputError(this.file, `a row is longer than ${this.maxRowChars} characters, the most one CSV row may hold: a quote left open, or a field that large (JSON and XES logs have no such limit)`, { line: this.restLine });
  }
}

class PapaRows implements RowBatch {
  readonly blankLines = true;
  error: LogInputError | undefined;

  /** breakChar: the character counted for line breaks inside quoted cells; undefined when nothing was quoted. */
  constructor(
    readonly rows: string[][],
    private readonly firstLine: number,
    readonly breakChar: '\n' | '\r' | undefined,
  ) {}

  lineOf(index: number): number {
    // papaparse returns blank lines as rows, so a row starts one line after the previous one plus its cells' breaks.
    let line = this.firstLine + index;
    if (this.breakChar === undefined) return line;
    for (const row of this.rows.slice(0, index)) {
      for (const cell of row) line += countChar(cell, this.breakChar, cell.length);
    }
    return line;
  }
}

class ExactRows implements RowBatch {
  readonly blankLines = false;
  error: LogInputError | undefined;

  constructor(
    readonly rows: string[][],
    private readonly lines: number[],
    private readonly firstLine: number,
  ) {}

  lineOf(index: number): number {
    return this.firstLine + (this.lines[index] ?? 0);
  }
}

class NoRows implements RowBatch {
  readonly rows: string[][] = [];
  readonly blankLines = true;

  constructor(readonly error: LogInputError | undefined) {}

  lineOf(): number {
    return 0;
  }
}

/** The file's first line break, which papaparse then takes as the only one; undefined until one is seen. */
function firstLineBreak(input: string, final: boolean): LineBreak | undefined {
  const lf = input.indexOf('\n');
  const cr = input.indexOf('\r');
  if (cr === -1 || (lf !== -1 && lf < cr)) return lf === -1 && !final ? undefined : '\n';
  return input.charCodeAt(cr + 1) === 0x0a ? '\r\n' : '\r';
}

/** papaparse ends rows only at the line break it was given. */
function hasOnlyLineBreak(input: string, lineBreak: LineBreak): boolean {
  if (lineBreak === '\n') return !input.includes('\r');
  if (lineBreak === '\r') return !input.includes('\n');
  return !LONE_CR_OR_LF.test(input);
}

function countChar(text: string, char: string, end: number): number {
  let count = 0;
  for (let at = text.indexOf(char); at !== -1 && at < end; at = text.indexOf(char, at + 1)) count++;
  return count;
}
