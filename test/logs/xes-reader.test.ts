import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LogInputError, readLog, type LogItem } from '../../src/logs/index.js';
import { plain, readAll, readError, tempFile } from './helpers.js';

const LOG = `<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <global scope="trace"><string key="global_only" value="x"/></global>
  <string key="log_level" value="ignored"/>
  <trace>
    <string key="concept:name" value="T1"/>
    <float key="risk_score" value="0.38"/>
    <boolean key="flag" value="true"/>
    <int key="n" value="007"/>
    <date key="when" value="2024-01-01T08:00:00.000+00:00"/>
    <id key="uid" value="abc"/>
    <string key="novalue"/>
    <string key="dup" value="first"/>
    <string key="dup" value="last"/>
    <string value="no key"/>
    <string key="parent" value="p"><string key="nested" value="ignored"/></string>
    <list key="items"><string key="in_list" value="ignored"/></list>
    <event>
      <string key="concept:name" value="submit"/>
      <string key="org:resource" value="clerk"/>
    </event>
    <event><string key="lifecycle:transition" value="complete"/></event>
    <event><int key="concept:name" value="42"/><string key="concept:name" value="renamed"/></event>
    <container><event><string key="concept:name" value="not an event of the trace"/></event></container>
  </trace>
  <trace/>
</log>
`;

function asTraces(items: LogItem[]): Array<{ attributes: Record<string, string>; events: string[] }> {
  return items.map((item) => {
    if ('error' in item) throw new Error(item.error);
    return { attributes: plain(item.attributes), events: item.events };
  });
}

describe('XES reader', () => {
  it('takes the direct typed children of a trace verbatim and event names from concept:name', async () => {
    const traces = asTraces(await readAll(tempFile('log.xes', LOG)));
    expect(traces).toEqual([
      {
        attributes: {
          'concept:name': 'T1',
          risk_score: '0.38',
          flag: 'true',
          n: '007',
          when: '2024-01-01T08:00:00.000+00:00',
          uid: 'abc',
          novalue: '',
          dup: 'last',
          parent: 'p',
        },
        events: ['submit', '', 'renamed'],
      },
      { attributes: {}, events: [] },
    ]);
  });

  it('accepts a log without namespace and with prefixed elements', async () => {
    const xml = '<x:log xmlns:x="urn:x"><x:trace><x:string key="a" value="1"/><x:event><x:string key="concept:name" value="e"/></x:event></x:trace></x:log>';
    expect(asTraces(await readAll(tempFile('prefixed.xes', xml)))).toEqual([{ attributes: { a: '1' }, events: ['e'] }]);
  });

  it('normalises attribute values as an XML parser must (entities, whitespace)', async () => {
    const xml = '<log><trace><string key="v" value="a&amp;b&#10;c\td"/></trace></log>';
    expect(asTraces(await readAll(tempFile('entities.xes', xml)))).toEqual([{ attributes: { v: 'a&b\nc d' }, events: [] }]);
  });

  it('reads gzip-compressed .xes.gz files, any case of the suffix', async () => {
    const expected = asTraces(await readAll(tempFile('plain.xes', LOG)));
    expect(asTraces(await readAll(tempFile('log.xes.gz', gzipSync(LOG))))).toEqual(expected);
    expect(asTraces(await readAll(tempFile('LOG.XES.GZ', gzipSync(LOG))))).toEqual(expected);
  });

  it('reports a .gz file that is not gzip data', async () => {
    const error = await readError(tempFile('fake.xes.gz', LOG));
    expect(error).toBeInstanceOf(LogInputError);
    expect((error as LogInputError).message).toContain('not valid gzip data');
  });

  it('says what follows the gzip data is not gzip (trailing garbage), where gzip -d would ignore it', async () => {
    const error = await readError(tempFile('log.xes.gz', Buffer.concat([gzipSync(LOG), Buffer.from('junk after the member\n')])));
    expect(error).toBeInstanceOf(LogInputError);
    expect((error as LogInputError).message).toContain('the gzip data is followed by bytes that are not gzip ("trailing garbage"');
    // Zero padding alone is ignored, as by gzip -d; a .gz name on data without the signature is still not gzip.
    expect(asTraces(await readAll(tempFile('padded.xes.gz', Buffer.concat([gzipSync(LOG), Buffer.alloc(512)]))))).toEqual(asTraces(await readAll(tempFile('plain.xes', LOG))));
    expect(((await readError(tempFile('fake.xes.gz', LOG))) as LogInputError).message).toContain('not valid gzip data (incorrect header check)');
  });

  it('yields each trace as soon as it is closed, before a later syntax error', async () => {
    const xml = '<log>\n<trace><string key="id" value="1"/></trace>\n<trace>\n<event>\n</trace>\n</log>\n';
    const seen: string[] = [];
    let caught: unknown;
    try {
      for await (const item of readLog(tempFile('late-error.xes', xml))) seen.push(item.attributes['id'] ?? '');
    } catch (error) {
      caught = error;
    }
    expect(seen).toEqual(['1']);
    expect(caught).toBeInstanceOf(LogInputError);
    const error = caught as LogInputError;
    expect(error.line).toBe(5);
    expect(error.column).toBeGreaterThan(0);
    expect(error.message).toContain('late-error.xes (line 5, column');
    expect(error.message).toContain('expected </event>');
  });

  it('reports an unclosed tag at end of file with a line number', async () => {
    const error = await readError(tempFile('unclosed.xes', '<log>\n  <trace>\n    <string key="a" value="1"/>\n'));
    expect(error).toBeInstanceOf(LogInputError);
    expect((error as LogInputError).line).toBe(4);
    expect((error as LogInputError).message).toMatch(/malformed XML: unclosed tag/);
  });

  it('reports garbage that is not XML', async () => {
    const error = await readError(tempFile('garbage.xes', 'case_id,activity\nA,submit\n'));
    expect(error).toBeInstanceOf(LogInputError);
    expect((error as LogInputError).line).toBe(1);
    expect((error as LogInputError).column).toBe(1);
    expect((error as LogInputError).message).toContain("where an XML document must begin with '<'");
  });

  it('reports well-formedness errors from the XML parser with their position', async () => {
    const error = await readError(tempFile('dup-attr.xes', '<log>\n<trace><string key="a" key="b"/></trace></log>'));
    expect((error as LogInputError).line).toBe(2);
    expect((error as LogInputError).message).toContain('malformed XML: duplicate attribute: key');
  });

  it('refuses elements nested more than 1000 deep at the first one too deep (a nesting alone cost time in the square of its size)', async () => {
    const nested = (levels: number) => `<log><trace>\n${'<a>'.repeat(levels)}${'</a>'.repeat(levels)}</trace></log>`;
    // The log and its trace, then 998 levels: 1000 elements open at once.
    expect(await readAll(tempFile('deep-enough.xes', nested(998)))).toHaveLength(1);
    const error = await readError(tempFile('too-deep.xes', nested(999)));
    expect(error).toBeInstanceOf(LogInputError);
    expect((error as LogInputError).message).toContain('elements nested more than 1000 deep');
    expect((error as LogInputError).line).toBe(2);
    expect((error as LogInputError).column).toBe(999 * 3);
  });

  it('requires the root element to be <log>', async () => {
    const error = await readError(tempFile('root.xes', '<trace><event/></trace>'));
    expect((error as LogInputError).message).toContain('the root element is <trace>, expected <log>');
  });

  it('rejects a declared non-UTF-8 encoding', async () => {
    const error = await readError(tempFile('latin.xes', '<?xml version="1.0" encoding="ISO-8859-1"?><log/>'));
    expect((error as LogInputError).message).toContain('encoding="ISO-8859-1"');
  });

  it('accepts a byte-order mark', async () => {
    const items = await readAll(tempFile('bom.xes', `\ufeff${LOG}`));
    expect(items).toHaveLength(2);
  });

  it('reports a log without traces as no traces', async () => {
    const error = await readError(tempFile('empty-log.xes', '<log><string key="a" value="b"/></log>'));
    expect((error as LogInputError).message).toContain('no traces parsed from the input file');
  });
});
