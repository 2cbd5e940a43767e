import { describe, expect, it } from 'vitest';
import { parseRowsExactly } from '../../src/logs/csv-exact-rows.js';
import { CsvRowParser, type RowBatch } from '../../src/logs/csv-row-parser.js';
import { LogInputError } from '../../src/logs/errors.js';

describe('parseRowsExactly', () => {
  // What csv-parse gave with the options this reader used before papaparse (relax_quotes, \r\n, \n and \r as breaks).
  it.each([
    ['"a,b"x,c\n', [['"a,b"x', 'c']]],
    ['"a""b"x,c\n', [['"a"b"x', 'c']]],
    ['"a" ,c\n', [['"a" ', 'c']]],
    ['""b,c\n', [['""b', 'c']]],
    ['"a"\r,b\n', [['a'], ['', 'b']]],
    ['"a"x"\nb"\n', [['"a"x"'], ['b"']]],
    ['a,""""\n', [['a', '"']]],
    ['""\n\n \n\r\n,', [[''], [' '], ['', '']]],
    [' "a",b', [[' "a"', 'b']]],
  ])('reads %j like csv-parse did', (input, rows) => {
    expect(parseRowsExactly(input, true).rows).toEqual(rows);
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

function readInPieces(text: string, cuts: number[], kinds: Record<string, number>): Read {
  const parser = new CsvRowParser('f.csv', 1 << 20);
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

describe('CsvRowParser', () => {
  it('reads any input in any pieces as parseRowsExactly reads it whole, with papaparse wherever that reads alike', () => {
    const alphabets = [
      ['a', 'b', ',', ',', '"', '"', '\r', '\n', '\n', ' ', '\r\n'],
      ['a', 'bc', ',', ',', '"', '\n', '\n', '""'],
      ['"a",', '"b\nc",', '"x""y"\n', 'q,', '\n', '"",', 'z'],
      ['"a",', '"b\r\nc",', '"x""y"\r\n', 'q,', '\r\n', '"",', 'z'],
      ['a', ',', '"', '\r', '\r', '""'],
    ];
    const next = random(42);
    const kinds: Record<string, number> = {};
    for (let n = 0; n < 20000; n++) {
      const alphabet = alphabets[n % alphabets.length] as string[];
      let text = '';
      for (let length = 1 + next(30); length > 0; length--) text += alphabet[next(alphabet.length)];
      const cuts: number[] = [];
      for (let at = next(text.length + 1); at < text.length && next(4) > 0; at += 1 + next(text.length)) cuts.push(at);

      const whole = parseRowsExactly(text, true);
      const expected: Read =
        whole.unclosedQuoteLine === undefined
          ? { rows: whole.rows, lines: whole.lines.map((line) => line + 1) }
          : { rows: whole.rows, lines: whole.lines.map((line) => line + 1), error: whole.unclosedQuoteLine + 1 };
      expect({ text, cuts, ...readInPieces(text, cuts, kinds) }).toEqual({ text, cuts, ...expected });
    }
    // Both parsers had a large share of the batches (about 22,000 and 6,000).
    expect(kinds['papaparse']).toBeGreaterThan(10000);
    expect(kinds['exact']).toBeGreaterThan(3000);
  });

  it('refuses a row once more of it than the limit is buffered, with the line it starts on', () => {
    const parser = new CsvRowParser('f.csv', 100);
    expect(parser.push('case_id,activity\nA,"').error).toBeUndefined();
    let error: LogInputError | undefined;
    for (let i = 0; i < 20 && !error; i++) error = parser.push('x'.repeat(10)).error;
    expect(error?.message).toBe('f.csv (line 2): a row is longer than 100 characters, the most one CSV row may hold: a quote left open, or a field that large (JSON and XES logs have no such limit)');
  });
});
