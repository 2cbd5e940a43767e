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
  });

  it('reports an unclosed quote with its line', async () => {
    const error = await readError(tempFile('openquote.csv', 'case_id,activity\nA,"submit\nB,x\n'));
    expect(error).toBeInstanceOf(LogInputError);
    expect((error as LogInputError).message).toContain('a quoted field in the row starting on line 2 is never closed');
    expect((error as LogInputError).line).toBe(2);
  });

  it('keeps a field with text after its closing quote verbatim (Python would give approved)', async () => {
    const items = await readAll(tempFile('afterquote.csv', 'case_id,activity\nA,"app"roved\n'));
    expect(summary(items)).toEqual([{ attributes: { case_id: 'A' }, events: ['"app"roved'] }]);
  });

  it('reports invalid UTF-8 with line and byte', async () => {
    const bytes = Buffer.concat([Buffer.from('case_id,activity\nA,caf'), Buffer.from([0xe9]), Buffer.from('\n')]);
    const error = await readError(tempFile('latin1.csv', bytes));
    expect(error).toBeInstanceOf(LogInputError);
    expect((error as LogInputError).byte).toBe(22);
    expect((error as LogInputError).line).toBe(2);
  });

  it('reports a header without rows as no traces', async () => {
    const error = await readError(tempFile('header-only.csv', 'case_id,activity\n'));
    expect((error as LogInputError).message).toContain('no traces parsed from the input file');
  });
});
