import { describe, expect, it } from 'vitest';
import { parseRowsExactly } from '../../src/logs/csv-exact-rows.js';
import { CsvRowParser, type RowBatch } from '../../src/logs/csv-row-parser.js';
import { LogInputError } from '../../src/logs/errors.js';
import type { CsvDelimiter } from '../../src/logs/types.js';

describe('parseRowsExactly', () => {
  // What Python's csv.reader gives (default dialect; \r\n, \n and \r as breaks), but for a blank line, dropped here.
  it.each([
    ['"a,b"x,c\n', [['a,bx', 'c']]],
    ['"a""b"x,c\n', [['a"bx', 'c']]],
    ['"a" ,c\n', [['a ', 'c']]],
    ['""b,c\n', [['b', 'c']]],
    ['"a"\r,b\n', [['a'], ['', 'b']]],
    ['"a"x"\nb"\n', [['ax"'], ['b"']]],
    ['a,""""\n', [['a', '"']]],
    ['""\n\n \n\r\n,', [[''], [' '], ['', '']]],
    [' "a",b', [[' "a"', 'b']]],
  ])('reads %j as Python does', (input, rows) => {
    expect(parseRowsExactly(input, true).rows).toEqual(rows);
  });

  // The same dialect with another delimiter: a comma is then plain text, and only the delimiter ends a field.
  it.each([
    [';', 'a;"b;c";d,e\n', [['a', 'b;c', 'd,e']]],
    [';', '"a;b"x;c\r\n"x"" y";"two\r\nlines"\r\n', [['a;bx', 'c'], ['x" y', 'two\r\nlines']]],
    [';', '"a" ;c\n"a",c\n', [['a ', 'c'], ['a,c']]],
    ['\t', 'a\t"b\tc"\t\n"x"\t"y"\n', [['a', 'b\tc', ''], ['x', 'y']]],
    ['\t', '"a" \tb\n"a"\t b\n"a"x\tb\n', [['a ', 'b'], ['a', ' b'], ['ax', 'b']]],
    ['|', '"a|b"|c|\n""\n|', [['a|b', 'c', ''], [''], ['', '']]],
  ] as const)('reads with delimiter %j: %j', (delimiter, input, rows) => {
    expect(parseRowsExactly(input, true, delimiter).rows).toEqual(rows);
  });
});

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
}

interface Read {
  rows: string[][];
  lines: number[];
  error?: number | undefined;
}

function readInPieces(text: string, cuts: number[], kinds: Record<string, number>, delimiter: CsvDelimiter = ','): Read {
  const parser = new CsvRowParser('f.csv', 1 << 20, delimiter);
  const read: Read = { rows: [], lines: [] };
  const use = (batch: RowBatch): void => {
    const kind = batch.blankLines ? 'papaparse' : 'exact';
    if (batch.rows.length > 0) kinds[kind] = (kinds[kind] ?? 0) + 1;
    batch.rows.forEach((row, i) => {
      if (batch.blankLines && row.length === 1 && row[0] === '') return;
      read.rows.push(row);
      read.lines.push(batch.lineOf(i));
    });
    if (batch.error) throw batch.error;
  };
  try {
    let from = 0;
    for (const cut of cuts) {
      use(parser.push(text.slice(from, cut)));
      from = cut;
    }
    use(parser.push(text.slice(from)));
    use(parser.end());
  } catch (error) {
    if (!(error instanceof LogInputError)) throw error;
    read.error = error.line;
  }
  return read;
}

const ALPHABETS = [
  ['a', 'b', ',', ',', '"', '"', '\r', '\n', '\n', ' ', '\r\n'],
  ['a', 'bc', ',', ',', '"', '\n', '\n', '""'],
  ['"a",', '"b\nc",', '"x""y"\n', 'q,', '\n', '"",', 'z'],
  ['"a",', '"b\r\nc",', '"x""y"\r\n', 'q,', '\r\n', '"",', 'z'],
  ['a', ',', '"', '\r', '\r', '""'],
  // One kind of line break, so that white space after a closing quote reaches the check that sends it to the exact parser.
  ['a', ',', ',', '"', '"', '\n', ' ', '\t', '""'],
];

describe('CsvRowParser', () => {
  // Another delimiter takes the comma's place in the alphabets, and a comma (and with it a tab or a space) is then
  // plain text: a tab is white space to papaparse, which drops white space between a closing quote and the delimiter.
  it.each([
    [',', 20000, ALPHABETS],
    [';', 10000, ALPHABETS.map((alphabet) => [...alphabet.map((s) => s.replaceAll(',', ';')), ',', '\t'])],
    ['\t', 10000, ALPHABETS.map((alphabet) => [...alphabet.map((s) => s.replaceAll(',', '\t')), ',', ' '])],
    ['|', 5000, ALPHABETS.map((alphabet) => [...alphabet.map((s) => s.replaceAll(',', '|')), ';'])],
  ] as const)('reads any input in any pieces as parseRowsExactly reads it whole, with papaparse wherever that reads alike (delimiter %j)', (delimiter, runs, alphabets) => {
    const next = random(42);
    const kinds: Record<string, number> = {};
    for (let n = 0; n < runs; n++) {
      const alphabet = alphabets[n % alphabets.length] as readonly string[];
      let text = '';
      for (let length = 1 + next(30); length > 0; length--) text += alphabet[next(alphabet.length)];
      const cuts: number[] = [];
      for (let at = next(text.length + 1); at < text.length && next(4) > 0; at += 1 + next(text.length)) cuts.push(at);

      const whole = parseRowsExactly(text, true, delimiter);
      const expected: Read =
        whole.unclosedQuoteLine === undefined
          ? { rows: whole.rows, lines: whole.lines.map((line) => line + 1) }
          : { rows: whole.rows, lines: whole.lines.map((line) => line + 1), error: whole.unclosedQuoteLine + 1 };
      expect({ text, cuts, ...readInPieces(text, cuts, kinds, delimiter) }).toEqual({ text, cuts, ...expected });
    }
    // Both parsers had a large share of the batches (for commas about 20,000 and 7,000 of 20,000 inputs).
    expect(kinds['papaparse']).toBeGreaterThan(runs / 2);
    expect(kinds['exact']).toBeGreaterThan(runs * 0.15);
  });

  it.each([
    // Quoted cells holding the delimiter, quotes and line breaks (CRLF in a CRLF file), and a tab after a closing quote.
    ['papaparse', ';', 'case_id;activity\r\n"A;1";"say ""hi"";\r\nok"\r\nB;x,y\r\n', [['case_id', 'activity'], ['A;1', 'say "hi";\r\nok'], ['B', 'x,y']]],
    ['papaparse', '\t', 'case_id\tactivity\n"A\t1"\t"b"\t\n"C"\t"d\ne"\n', [['case_id', 'activity'], ['A\t1', 'b', ''], ['C', 'd\ne']]],
    ['papaparse', '|', 'a|b\r"c|d"|"e"\r', [['a', 'b'], ['c|d', 'e']]],
    // Text or white space after a closing quote, a line break other than the file's first, a lone "": the exact parser.
    ['exact', ';', 'case_id;activity\nA;"app"roved;x\n', [['case_id', 'activity'], ['A', 'approved', 'x']]],
    ['exact', '\t', 'case_id\tactivity\nA\t"b" \tc\n', [['case_id', 'activity'], ['A', 'b ', 'c']]],
    ['exact', ';', 'case_id;activity\r\n"A";"x\ny"\n""\n', [['case_id', 'activity'], ['A', 'x\ny'], ['']]],
  ] as const)('reads with %s, delimiter %j: %j', (kind, delimiter, text, rows) => {
    const kinds: Record<string, number> = {};
    expect(readInPieces(text, [], kinds, delimiter).rows).toEqual(rows);
    expect(Object.keys(kinds)).toEqual([kind]);
  });

  it('refuses a row once more of it than the limit is buffered, with the line it starts on', () => {
    const parser = new CsvRowParser('f.csv', 100);
    expect(parser.push('case_id,activity\nA,"').error).toBeUndefined();
    let error: LogInputError | undefined;
    for (let i = 0; i < 20 && !error; i++) error = parser.push('x'.repeat(10)).error;
    expect(error?.message).toBe('f.csv (line 2): a row is longer than 100 characters, the most one CSV row may hold: a quote left open, or a field that large (JSON and XES logs have no such limit)');
  });
});
