import { describe, expect, it } from 'vitest';
import { LogInputError, isLogTraceError, readLog, type LogItem } from '../../src/logs/index.js';
import { plain, readAll, readError, tempFile } from './helpers.js';

function view(item: LogItem): { index: number; attributes: Record<string, string>; events?: string[]; error?: string } {
  return isLogTraceError(item)
    ? { index: item.index, attributes: plain(item.attributes), error: item.error }
    : { index: item.index, attributes: plain(item.attributes), events: item.events };
}

describe('JSON reader', () => {
  it('reads string and object events and str()s attribute values like Python', async () => {
    const json = `[
      {"attributes": {"int": 1000, "exp": 1e3, "float": 0.5, "small": 1e-5, "big": 1e16, "huge": 123456789012345678901234567890,
                      "negzero": -0.0, "t": true, "f": false, "none": null, "s": "text", "list": [1, "a", null, 2.0],
                      "dict": {"k": "it's"}, "nan": NaN, "inf": -Infinity},
       "events": ["submit", {"name": "approve", "attributes": {"who": "x"}}, ""]},
      {"events": []},
      {"attributes": null}
    ]`;
    const items = (await readAll(tempFile('values.json', json))).map(view);
    expect(items).toEqual([
      {
        index: 0,
        attributes: {
          int: '1000',
          exp: '1000.0',
          float: '0.5',
          small: '1e-05',
          big: '1e+16',
          huge: '123456789012345678901234567890',
          negzero: '-0.0',
          t: 'True',
          f: 'False',
          none: 'None',
          s: 'text',
          list: "[1, 'a', None, 2.0]",
          dict: `{'k': "it's"}`,
          nan: 'nan',
          inf: '-inf',
        },
        events: ['submit', 'approve', ''],
      },
      { index: 1, attributes: {}, events: [] },
      { index: 2, attributes: {}, events: [] },
    ]);
  });

  it('turns a malformed event into a LogTraceError for that trace and keeps reading', async () => {
    const json = `[
  {"attributes": {"case": "A"}, "events": ["submit"]},
  {"attributes": {"case": "B"}, "events": ["submit", {"attributes": {}}, "approve"]},
  {"attributes": {"case": "C"}, "events": [{"name": ""}]},
  {"attributes": {"case": "D"}, "events": [{"name": 5}]},
  {"attributes": {"case": "E"}, "events": [42]},
  "not a trace",
  {"attributes": {"case": "F"}, "events": null},
  {"attributes": ["x"]},
  {"attributes": {"case": "G"}, "events": ["close"]}
]`;
    const items = (await readAll(tempFile('bad-events.json', json))).map(view);
    expect(items.map((item) => item.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(items[0]).toEqual({ index: 0, attributes: { case: 'A' }, events: ['submit'] });
    expect(items[1]).toEqual({ index: 1, attributes: { case: 'B' }, error: 'event 1 at line 3, column 54 has no "name"' });
    expect(items[2]?.error).toBe('event 0 at line 4, column 44 has an empty "name"');
    expect(items[3]?.error).toContain('event 0 at line 5, column 44 has a "name" that is a number; expected a string');
    expect(items[4]?.error).toContain('event 0 at line 6, column 44 is a number');
    expect(items[5]).toEqual({ index: 5, attributes: {}, error: 'the trace entry at line 7, column 3 is a string; expected an object' });
    expect(items[6]?.error).toBe('"events" at line 8, column 43 is null; expected an array');
    expect(items[7]?.error).toContain('"attributes" at line 9, column 18 is an array');
    expect(items[8]).toEqual({ index: 8, attributes: { case: 'G' }, events: ['close'] });
  });

  it('reports the position of a syntax error', async () => {
    const error = await readError(tempFile('syntax.json', '[\n  {"events": ["a",]}\n]'));
    expect(error).toBeInstanceOf(LogInputError);
    const { line, column, message } = error as LogInputError;
    expect({ line, column }).toEqual({ line: 2, column: 19 });
    expect(message).toContain('syntax.json (line 2, column 19): invalid JSON: unexpected "]"; expected a JSON value');
  });

  it('counts \\r\\n and a lone \\r as one line break each in positions', async () => {
    for (const [name, breakText] of [['crlf', '\r\n'], ['cr', '\r']] as const) {
      const error = (await readError(tempFile(`syntax-${name}.json`, `[${breakText}  {"events": ["a",]}${breakText}]`))) as LogInputError;
      expect({ line: error.line, column: error.column }, name).toEqual({ line: 2, column: 19 });
    }
  });

  it('counts a character outside the BMP as one column', async () => {
    const [item] = await readAll(tempFile('astral.json', '[{"attributes": {"x": "\u{1F600}"}, "events": [{}]}]'));
    expect(item && 'error' in item ? item.error : '').toBe('event 0 at line 1, column 40 has no "name"');
  });

  it('reports an unterminated document at its end', async () => {
    const error = await readError(tempFile('truncated.json', '[{"events": ["a"]}, {"events": ['));
    expect((error as LogInputError).message).toContain('invalid JSON: unexpected end of file');
  });

  it('yields the traces before a syntax error, then fails', async () => {
    const seen: number[] = [];
    await expect(async () => {
      for await (const item of readLog(tempFile('late.json', '[{"events": []}, {"events": [}]'))) seen.push(item.index);
    }).rejects.toThrow(/invalid JSON/);
    expect(seen).toEqual([0]);
  });

  it('requires a top-level array', async () => {
    const error = await readError(tempFile('object.json', '{"events": []}'));
    expect((error as LogInputError).message).toContain('the top-level JSON value is an object; expected an array of traces');
  });

  it('names JSON Lines (one trace object per line) as what it is, not as text after the end of the document', async () => {
    const error = (await readError(tempFile('traces.json', '{"events": ["a"]}\r\n{"events": ["b"]}\r\n'))) as LogInputError;
    expect({ line: error.line, column: error.column }).toEqual({ line: 1, column: 1 });
    expect(error.message).toBe(
      `${error.file} (line 1, column 1): one JSON object follows another (a second begins on line 2): JSON Lines, which petra-score does not read; expected one array of traces: put the objects in [ and ], a comma after each but the last`,
    );
    // Anything else after a first value is still a syntax error where it stands.
    const trailing = (await readError(tempFile('trailing.json', '{"events": []}\n]'))) as LogInputError;
    expect(trailing.message).toContain('(line 2, column 1): invalid JSON: unexpected "]" after the end of the JSON document');
  });

  it('accepts a byte-order mark', async () => {
    expect(await readAll(tempFile('bom.json', '\ufeff[{"events": ["a"]}]'))).toHaveLength(1);
  });

  it('reports an empty array as no traces', async () => {
    const error = await readError(tempFile('empty-list.json', ' [ ] '));
    expect((error as LogInputError).message).toContain('no traces parsed from the input file');
  });
});
