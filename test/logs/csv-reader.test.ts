import { describe, expect, it } from 'vitest';
import { LogInputError, readLog, type LogItem } from '../../src/logs/index.js';
import { plain, readAll, readError, tempFile } from './helpers.js';

function summary(items: LogItem[]): Array<{ attributes: Record<string, string>; events: string[] }> {
  return items.map((item) => {
    if ('error' in item) throw new Error(`unexpected trace error: ${item.error}`);
    return { attributes: plain(item.attributes), events: [...item.events].sort() };
  });
}

const INTERLEAVED = [
  'case_id,activity,amount,channel',
  'A,submit,100,web',
  'B,submit,200,phone',
  'A,approve,999,branch',
  'C,submit,300,web',
  'B,decline,,',
  'A,close,1,web',
  '',
].join('\n');

describe('CSV reader', () => {
  it('groups non-contiguous rows by case in first-seen order, attributes from the first row', async () => {
    const items = await readAll(tempFile('interleaved.csv', INTERLEAVED));
    expect(items.map((item) => item.index)).toEqual([0, 1, 2]);
    expect(summary(items)).toEqual([
      { attributes: { case_id: 'A', amount: '100', channel: 'web' }, events: ['approve', 'close', 'submit'] },
      { attributes: { case_id: 'B', amount: '200', channel: 'phone' }, events: ['decline', 'submit'] },
      { attributes: { case_id: 'C', amount: '300', channel: 'web' }, events: ['submit'] },
    ]);
  });

  it('keeps each distinct activity once', async () => {
    const items = await readAll(tempFile('repeats.csv', 'case_id,activity\nA,x\nA,y\nA,x\n'));
    expect(summary(items)).toEqual([{ attributes: { case_id: 'A' }, events: ['x', 'y'] }]);
  });

  it('uses the given case and activity columns', async () => {
    const items = await readAll(tempFile('columns.csv', 'Activity,CaseID,x\nsubmit,K1,1\n'), {
      caseColumn: 'CaseID',
      activityColumn: 'Activity',
    });
    expect(summary(items)).toEqual([{ attributes: { CaseID: 'K1', x: '1' }, events: ['submit'] }]);
  });

  it('drops the cells a short first row lacks and keeps empty cells as ""', async () => {
    const path = tempFile('short.csv', 'case_id,activity,amount,channel\nA,submit,100\nA,approve,100,web\nB,submit,,\n');
    expect(summary(await readAll(path))).toEqual([
      { attributes: { case_id: 'A', amount: '100' }, events: ['approve', 'submit'] },
      { attributes: { case_id: 'B', amount: '', channel: '' }, events: ['submit'] },
    ]);
  });

  it('lets a later duplicate header name win, also when its cell is missing (DictReader)', async () => {
    const items = await readAll(tempFile('dup.csv', 'case_id,activity,x,x\nA,submit,1\nB,submit,1,2\n'));
    expect(summary(items)).toEqual([
      { attributes: { case_id: 'A' }, events: ['submit'] },
      { attributes: { case_id: 'B', x: '2' }, events: ['submit'] },
    ]);
  });

  it('groups rows too short to have a case cell into one trace without the case attribute', async () => {
    const items = await readAll(tempFile('nocasecell.csv', 'activity,x,case_id\nsubmit,1\nA1,2,K\napprove\n'));
    expect(summary(items)).toEqual([
      { attributes: { x: '1' }, events: ['approve', 'submit'] },
      { attributes: { case_id: 'K', x: '2' }, events: ['A1'] },
    ]);
  });

  it('ignores cells beyond the header width', async () => {
    const items = await readAll(tempFile('long.csv', 'case_id,activity\nA,submit,extra,more\n'));
    expect(summary(items)).toEqual([{ attributes: { case_id: 'A' }, events: ['submit'] }]);
  });

  it('handles quoting, CRLF line ends and blank lines like Python\'s csv module', async () => {
    const path = tempFile('quoted.csv', 'case_id,activity,note\r\n"A","sub,mit","two\r\nlines"\r\n\r\nA,"say ""hi""",x\r\nA,bare "quote",y\r\n');
    expect(summary(await readAll(path))).toEqual([
      { attributes: { case_id: 'A', note: 'two\r\nlines' }, events: ['bare "quote"', 'say "hi"', 'sub,mit'] },
    ]);
  });

  it('ends rows at \\r\\n, \\n and \\r, also mixed in one file, like Python\'s csv module', async () => {
    const items = await readAll(tempFile('mixed.csv', 'case_id,activity\nA,x\r\nB,y\rC,z\n\r\nA,w'));
    expect(summary(items)).toEqual([
      { attributes: { case_id: 'A' }, events: ['w', 'x'] },
      { attributes: { case_id: 'B' }, events: ['y'] },
      { attributes: { case_id: 'C' }, events: ['z'] },
    ]);
  });

  it('keeps a quoted cell\'s own line breaks, also a \\r at its end', async () => {
    const items = await readAll(tempFile('cr-in-cell.csv', 'case_id,activity,n\nA,x,"a\r"\nB,y,"b\rc"\n'));
    expect(summary(items)).toEqual([
      { attributes: { case_id: 'A', n: 'a\r' }, events: ['x'] },
      { attributes: { case_id: 'B', n: 'b\rc' }, events: ['y'] },
    ]);
  });

  it('reads a lone "" as a row with an empty case id, not as a blank line (DictReader)', async () => {
    const items = await readAll(tempFile('lone-empty.csv', 'case_id,activity\n""\nA,x\n'));
    expect(summary(items)).toEqual([
      { attributes: { case_id: '' }, events: [] },
      { attributes: { case_id: 'A' }, events: ['x'] },
    ]);
  });

  it('strips a UTF-8 byte-order mark, which PETRA would leave on the first header cell', async () => {
    const items = await readAll(tempFile('bom.csv', '\ufeffcase_id,activity,amount\nA,submit,5\n'));
    expect(summary(items)).toEqual([{ attributes: { case_id: 'A', amount: '5' }, events: ['submit'] }]);
  });

  it('keeps attribute names such as __proto__ as ordinary entries', async () => {
    const [item] = await readAll(tempFile('proto.csv', 'case_id,activity,__proto__\nA,submit,x\n'));
    expect(Object.keys(item?.attributes ?? {})).toEqual(['case_id', '__proto__']);
    expect(item?.attributes['__proto__']).toBe('x');
  });

  it('names the missing column and lists the header', async () => {
    const error = await readError(tempFile('nocase.csv', 'case,activity\nA,submit\n'));
    expect(error).toBeInstanceOf(LogInputError);
    expect((error as LogInputError).line).toBe(1);
    expect((error as LogInputError).message).toContain('no "case_id" column');
    expect((error as LogInputError).message).toContain('["case","activity"]');

    const noActivity = await readError(tempFile('noactivity.csv', 'case_id,step\nA,submit\n'));
    expect((noActivity as LogInputError).message).toContain('no "activity" column');
  });

  it('reads semicolon-, tab- and pipe-separated files with csvDelimiter, quoting as for commas', async () => {
    const expected = [
      { attributes: { case_id: 'A;1', note: 'say "hi",\r\nthen\tgo' }, events: ['b|c', 'sub,mit'] },
      { attributes: { case_id: 'B', note: '' }, events: ['x'] },
    ];
    const rows = [['case_id', 'activity', 'note'], ['A;1', 'sub,mit', 'say "hi",\r\nthen\tgo'], ['A;1', 'b|c', 'y'], ['B', 'x', '']];
    for (const delimiter of [',', ';', '\t', '|'] as const) {
      // Quoted where Python's csv writer would quote: the delimiter, a quote or a line break in the cell.
      const quote = (cell: string) => (/[\r\n"]/.test(cell) || cell.includes(delimiter) ? `"${cell.replaceAll('"', '""')}"` : cell);
      const text = rows.map((row) => row.map(quote).join(delimiter)).join('\r\n');
      const items = await readAll(tempFile(`delimited-${delimiter.charCodeAt(0)}.csv`, text), { csvDelimiter: delimiter });
      expect(summary(items), JSON.stringify(delimiter)).toEqual(expected);
    }
  });

  it('refuses a delimiter it does not take, which papaparse would silently read as a comma', async () => {
    const path = tempFile('space.csv', 'case_id activity\nA x\n');
    // As a caller passing a command line's text on would; the type admits only the four.
    const error = await readError(path, { csvDelimiter: ' ' as ',' });
    expect((error as LogInputError).message).toBe(`${path}: unknown CSV delimiter " "; expected ',', ';', '|' or a tab`);
  });

  it('suggests --csv-delimiter when a column is missing from a header that another delimiter would split', async () => {
    const cases: [string, string | undefined, string][] = [
      ['case_id;activity;amount\nA;x;1\n', undefined, `["case_id;activity;amount"]; the header looks semicolon-separated: give --csv-delimiter ';'`],
      ['case_id\tactivity\nA\tx\n', undefined, `["case_id\\tactivity"]; the header looks tab-separated: give --csv-delimiter tab`],
      ['case_id|activity\nA|x\n', undefined, `["case_id|activity"]; the header looks pipe-separated: give --csv-delimiter '|'`],
      ['case_id,activity\nA,x\n', ';', `["case_id,activity"]; the header looks comma-separated: give --csv-delimiter ','`],
      // Names with a comma in a semicolon-separated header: several columns, one of them holding case_id.
      ['case_id;activity;cost, EUR;rate, %\n', undefined, `["case_id;activity;cost"," EUR;rate"," %"]; the header looks semicolon-separated: give --csv-delimiter ';'`],
      // The most frequent of two.
      ['case_id\tactivity\tcost;EUR\n', undefined, 'the header looks tab-separated'],
      // Excel's sep= line before the header, read with its delimiter or without.
      ['sep=;\r\ncase_id;activity\r\nA;x\r\n', ';', `["sep=",""]; the first line is Excel's \`sep=\` line: remove it, so that the header comes first`],
      ['sep=;\ncase_id;activity\n', undefined, `["sep=;"]; the first line is Excel's \`sep=\` line`],
    ];
    for (const [text, delimiter, message] of cases) {
      const error = await readError(tempFile('one-column.csv', text), delimiter === undefined ? {} : { csvDelimiter: delimiter as ';' });
      expect(error).toBeInstanceOf(LogInputError);
      expect((error as LogInputError).message, text).toContain(message);
      expect((error as LogInputError).message).toMatch(/^.*one-column\.csv \(line 1\): the CSV header has no "case_id" column/);
    }
    // No hint where no other delimiter would give the column, or the header has none.
    for (const text of ['case;activity,x\nA;b,c\n', 'case,activity;x\n', 'caseid\nA\n']) {
      const error = await readError(tempFile('no-hint.csv', text));
      expect((error as LogInputError).message).not.toContain('separated');
    }
  });

  it('lists header columns with invisible characters escaped (a second byte-order mark, a zero-width space)', async () => {
    // The first BOM is the file's and stripped; the second is part of the column's name, which is why it is missing.
    const error = await readError(tempFile('two-boms.csv', '\uFEFF\uFEFFcase_id,activity\u200B\nA,b\n'));
    expect((error as LogInputError).message).toContain('the CSV header has no "case_id" column (the case column); header columns: ["\\ufeffcase_id","activity\\u200b"]');
  });

  it('quotes at most 200 characters of a cell and 50 columns of a header (a one-line 6 MB file made a 7 MB message)', async () => {
    const wide = Array.from({ length: 80 }, (_, i) => `column_${i}`);
    const error = await readError(tempFile('huge-header.csv', `${'x'.repeat(1_000_000)},${wide.join(',')}\nA,b\n`));
    const message = (error as LogInputError).message;
    expect(message.length).toBeLessThan(2000);
    expect(message).toContain(`header columns: ["${'x'.repeat(200)}…","column_0",`);
    expect(message).toContain('"column_48", … and 31 more]');
    const reappears = await readError(tempFile('huge-case.csv', `case_id,activity\n${'A'.repeat(100_000)},a\nB,b\n${'A'.repeat(100_000)},c\n`), { sorted: true });
    expect((reappears as LogInputError).message).toContain(`not sorted by case: case "${'A'.repeat(200)}…" reappears at line 4`);
    expect((reappears as LogInputError).message.length).toBeLessThan(500);
  });

  describe('sorted mode', () => {
    it('emits each case when the next one starts, in the same order as unsorted reading', async () => {
      const path = tempFile('sorted.csv', 'case_id,activity,x\nA,a,1\nA,b,2\nB,a,3\n\nC,c,4\nC,c,5\n');
      const sorted = await readAll(path, { sorted: true });
      expect(summary(sorted)).toEqual([
        { attributes: { case_id: 'A', x: '1' }, events: ['a', 'b'] },
        { attributes: { case_id: 'B', x: '3' }, events: ['a'] },
        { attributes: { case_id: 'C', x: '4' }, events: ['c'] },
      ]);
      expect(sorted).toEqual(await readAll(path));
    });

    it('yields a case before the rest of the file is parsed', async () => {
      const path = tempFile('sorted-then-broken.csv', 'case_id,activity\nA,a\nB,b\nC,"never closed\n');
      const seen: string[] = [];
      await expect(async () => {
        for await (const item of readLog(path, { sorted: true })) {
          seen.push(item.attributes['case_id'] ?? '');
        }
      }).rejects.toThrow(LogInputError);
      // B is still open when the broken row of C is reached, so only A was complete.
      expect(seen).toEqual(['A']);
    });

    it('fails with the line where an emitted case reappears', async () => {
      const path = tempFile('unsorted.csv', 'case_id,activity\nA,a\nB,b\n\nA,c\n');
      const error = await readError(path, { sorted: true });
      expect(error).toBeInstanceOf(LogInputError);
      expect((error as LogInputError).line).toBe(5);
      expect((error as LogInputError).message).toContain('not sorted by case: case "A" reappears at line 5');
    });

    it('counts the lines of quoted multi-line cells in that line number', async () => {
      const path = tempFile('unsorted-multiline.csv', 'case_id,activity,note\nA,a,"x\ny\nz"\nB,b,\nA,c,\n');
      expect((await readError(path, { sorted: true }) as LogInputError).line).toBe(6);
    });

    it('counts \\r\\n, \\n and \\r as one line each, also inside a quoted cell', async () => {
      const crlf = tempFile('unsorted-crlf.csv', 'case_id,activity,note\r\nA,a,"1\r\n2"\r\nB,b\r\n\r\nA,c\r\n');
      expect((await readError(crlf, { sorted: true }) as LogInputError).line).toBe(6);
      const mixed = tempFile('unsorted-mixed.csv', 'case_id,activity\nA,a\r\nB,"b\rb"\r\rA,c\n');
      expect((await readError(mixed, { sorted: true }) as LogInputError).line).toBe(6);
    });

    it('gives the line far into a file read in many pieces, whichever way its rows are written', async () => {
      // Multi-line quoted cells throughout, and now and then white space after a closing quote, which papaparse
      // would read differently and so goes to the exact parser.
      const rows = Array.from({ length: 20000 }, (_, i) => `C${i},a,"note\r\n${i}"${i % 3000 === 0 ? ' ' : ''}`);
      const path = tempFile('unsorted-long.csv', `case_id,activity,note\r\n${rows.join('\r\n')}\r\nC7,b,\r\n`);
      const error = await readError(path, { sorted: true });
      expect((error as LogInputError).message).toContain('case "C7" reappears at line 40002');
      const items = await readAll(path);
      expect(items).toHaveLength(20000);
      expect(plain(items[3000]?.attributes ?? {})).toEqual({ case_id: 'C3000', note: 'note\r\n3000 ' });
      expect(plain(items[3001]?.attributes ?? {})).toEqual({ case_id: 'C3001', note: 'note\r\n3001' });
    });
  });

  it('reports an unclosed quote with its line', async () => {
    const error = await readError(tempFile('openquote.csv', 'case_id,activity\nA,"submit\nB,x\n'));
    expect(error).toBeInstanceOf(LogInputError);
    expect((error as LogInputError).message).toContain('a quoted field in the row starting on line 2 is never closed');
    expect((error as LogInputError).line).toBe(2);
  });

  it('reports an unclosed quote far into a file with its line', async () => {
    const rows = Array.from({ length: 20000 }, (_, i) => `C${i},"a\nb"`);
    const error = await readError(tempFile('openquote-long.csv', `case_id,activity\n${rows.join('\n')}\nX,"open\nY,b\n`));
    expect((error as LogInputError).message).toContain('in the row starting on line 40002 is never closed');
    expect((error as LogInputError).line).toBe(40002);
  });

  it('reads text after a closing quote on, unquoted, as Python does ("app"roved is approved)', async () => {
    const items = await readAll(tempFile('afterquote.csv', 'case_id,activity\nA,"app"roved\n'));
    expect(summary(items)).toEqual([{ attributes: { case_id: 'A' }, events: ['approved'] }]);
  });

  it('keeps white space after a closing quote as Python does ("x"  is "x  ")', async () => {
    const items = await readAll(tempFile('spaceafterquote.csv', 'case_id,activity,n\nA,"x"  ,"n"\t\nB,"y" \n'));
    expect(summary(items)).toEqual([
      { attributes: { case_id: 'A', n: 'n\t' }, events: ['x  '] },
      { attributes: { case_id: 'B' }, events: ['y '] },
    ]);
  });

  it('reports invalid UTF-8 with line and byte', async () => {
    const bytes = Buffer.concat([Buffer.from('case_id,activity\nA,caf'), Buffer.from([0xe9]), Buffer.from('\n')]);
    const error = await readError(tempFile('latin1.csv', bytes));
    expect(error).toBeInstanceOf(LogInputError);
    expect((error as LogInputError).byte).toBe(22);
    expect((error as LogInputError).line).toBe(2);
  });

  it('reports invalid UTF-8 far into a file with line and byte, past multi-byte characters cut by reads', async () => {
    // Three-byte characters, so sequences straddle the 64 KiB reads.
    const rows = Array.from({ length: 30000 }, (_, i) => `C${i},caf\u00e9 \u20ac${i % 7 === 0 ? '\u{1f600}' : ''}\n`).join('');
    const good = Buffer.from(`case_id,activity\n${rows}X,`);
    const error = await readError(tempFile('latin1-late.csv', Buffer.concat([good, Buffer.from([0xe9, 0x0a])])));
    expect((error as LogInputError).byte).toBe(good.length);
    expect((error as LogInputError).line).toBe(30002);
  });

  it('counts a lone \\r as a line break in an invalid UTF-8 report, as a classic Mac export (Excel "CSV (Macintosh)", Mac Roman) has them', async () => {
    const bytes = Buffer.concat([Buffer.from('case_id,activity\rA,approve\rB,caf'), Buffer.from([0x8e]), Buffer.from('\r')]);
    const error = (await readError(tempFile('mac-roman.csv', bytes))) as LogInputError;
    expect({ line: error.line, byte: error.byte }).toEqual({ line: 3, byte: 32 });
    // The same line as the reader's own messages give in that file: an unclosed quote on the same line.
    const unclosed = (await readError(tempFile('mac-quote.csv', 'case_id,activity\rA,approve\rB,"caf\r'))) as LogInputError;
    expect(unclosed.line).toBe(3);
  });

  it('counts a \\r\\n cut between two reads once in an invalid UTF-8 report', async () => {
    // A header of 18 bytes, a filler row of 1,519 and rows of 16: the \r of a row is the last byte of the first 64 KiB
    // read, its \n the first of the second.
    const header = 'case_id,activity\r\n';
    const filler = `F${'x'.repeat(1508)},approve\r\n`;
    const rows = Array.from({ length: 4002 }, (_, i) => `C${String(i).padStart(5, '0')},approve\r\n`).join('');
    const text = header + filler + rows;
    expect(text.slice(65535, 65537)).toBe('\r\n');
    const breaks = text.split('\r\n').length - 1;
    const error = (await readError(tempFile('crlf-cut.csv', Buffer.concat([Buffer.from(text), Buffer.from([0xe9, 0x0d, 0x0a])])))) as LogInputError;
    expect({ line: error.line, byte: error.byte }).toEqual({ line: breaks + 1, byte: text.length });
  });

  it('reports a header without rows as no traces', async () => {
    const error = await readError(tempFile('header-only.csv', 'case_id,activity\n'));
    expect((error as LogInputError).message).toContain('no traces parsed from the input file');
  });

  it('tells an unsorted read how many traces the log holds before the first is handed out, and a sorted one never', async () => {
    const file = tempFile('total.csv', INTERLEAVED);
    const seen: string[] = [];
    for await (const item of readLog(file, { onTotal: (n) => seen.push(`total ${n}`) })) seen.push(`trace ${item.index}`);
    expect(seen).toEqual(['total 3', 'trace 0', 'trace 1', 'trace 2']);
    const sorted = tempFile('total-sorted.csv', 'case_id,activity\nA,x\nA,y\nB,x\n');
    const told: number[] = [];
    expect(await readAll(sorted, { sorted: true, onTotal: (n) => told.push(n) })).toHaveLength(2);
    expect(told).toEqual([]);
  });

  it('warns of a last row shorter than the header (an export cut off mid-row), which it reads as PETRA does', async () => {
    const warnings = async (name: string, text: string, options: { sorted?: boolean } = {}) => {
      const file = tempFile(name, text);
      const told: string[] = [];
      const items = await readAll(file, { ...options, onWarning: (message) => told.push(message) });
      return { file, items, told };
    };
    const header = 'case_id,activity,channel,amount';
    const cut = await warnings('cut.csv', `${header}\nA,submit,web,100\nB,submit,web,200\nB,approve,br`);
    // As DictReader reads it: the row's cells are there, the absent ones dropped (B's attributes come from its first row).
    expect(summary(cut.items)).toEqual([
      { attributes: { case_id: 'A', channel: 'web', amount: '100' }, events: ['submit'] },
      { attributes: { case_id: 'B', channel: 'web', amount: '200' }, events: ['approve', 'submit'] },
    ]);
    const message = (file: string, line: number, cells: number) =>
      `${file}: the last row (line ${line}) has ${cells} of the header's 4 cells, and is read as petra-score reads it (the missing cells absent); was the export cut off?`;
    expect(cut.told).toEqual([message(cut.file, 4, 3)]);
    // The exact parser's path (\r\n rows, a quoted line break before it: line 4), sorted, a case cut after its id.
    const exact = await warnings('cut-exact.csv', `${header}\r\nA,submit,"two\nlines",100\r\nC`, { sorted: true });
    expect(summary(exact.items).map((item) => plain(item.attributes))).toEqual([{ case_id: 'A', channel: 'two\nlines', amount: '100' }, { case_id: 'C' }]);
    expect(exact.told).toEqual([message(exact.file, 4, 1)]);
    // A short row elsewhere is an event without those attributes (PETRA's missing attribute), and blank lines at the end
    // are no row: neither is said.
    for (const [name, text] of [['short-inside.csv', `${header}\nA,submit\nB,submit,web,1\n`], ['blank-end.csv', `${header}\nA,submit,web,1\n\n\n`]] as const) {
      expect((await warnings(name, text)).told, name).toEqual([]);
    }
  });
});
