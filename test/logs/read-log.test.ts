import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LogInputError, detectFormat, readLog } from '../../src/logs/index.js';
import { readAll, readError, tempFile } from './helpers.js';

describe('detectFormat', () => {
  it.each([
    ['log.xes', 'xes'],
    ['LOG.XES', 'xes'],
    ['dir.csv/log.xes.gz', 'xes'],
    ['Log.Xes.Gz', 'xes'],
    ['log.csv', 'csv'],
    ['log.CSV', 'csv'],
    ['log.json', 'json'],
    ['log.csv.gz', 'csv'],
    ['gz.CSV.GZ', 'csv'],
    ['log.json.gz', 'json'],
  ] as const)('%s -> %s', (path, format) => {
    expect(detectFormat(path)).toBe(format);
  });

  it.each(['log.txt', 'log.txt.gz', 'log.gz', 'log.xml', 'log'])('rejects %s', (path) => {
    expect(() => detectFormat(path)).toThrow(LogInputError);
    expect(() => detectFormat(path)).toThrow(/expected a name ending in .xes, .csv or .json, each optionally followed by .gz/);
  });
});

describe('readLog', () => {
  it('rejects an unknown extension when the format is auto', async () => {
    const error = await readError(tempFile('log.txt', 'case_id,activity\nA,b\n'));
    expect(error).toBeInstanceOf(LogInputError);
  });

  it('reports a JSON log\'s progress as the share parsed, in its bytes, rising with the traces to its size', async () => {
    const traces = Array.from({ length: 100 }, (_, i) => ({ attributes: { risk_score: String(i / 100) }, events: ['approve loan'] }));
    const text = JSON.stringify(traces);
    const path = tempFile('log.json', text);
    const seen: number[] = [];
    const before: number[] = [];
    for await (const _item of readLog(path, { onProgress: (bytes) => seen.push(bytes) })) before.push(seen.at(-1) ?? 0);
    // Read whole in a moment before the first trace: that is not reported, so the line does not stand at 100%.
    expect(before[0]!).toBeLessThan(text.length / 50);
    expect(before[50]!).toBeGreaterThan(text.length * 0.45);
    expect(before[50]!).toBeLessThan(text.length * 0.55);
    expect(seen.at(-1)).toBe(text.length);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });

  it('reads any file name when the format is given', async () => {
    expect(await readAll(tempFile('export.txt', 'case_id,activity\nA,b\n'), { format: 'csv' })).toHaveLength(1);
    expect(await readAll(tempFile('export.dat', '<log><trace/></log>'), { format: 'xes' })).toHaveLength(1);
  });

  it('reads gzipped CSV and JSON logs by their names alone, as the same logs uncompressed', async () => {
    const csv = 'case_id,activity,risk_score\nA,approve loan,0.9\nA,decline loan,0.9\nB,decline loan,0.2\n';
    expect(await readAll(tempFile('log.csv.gz', gzipSync(csv)))).toEqual(await readAll(tempFile('plain.csv', csv)));
    const json = JSON.stringify([{ case_id: 'A', events: [{ name: 'approve loan' }], attributes: { risk_score: '0.9' } }]);
    expect(await readAll(tempFile('LOG.JSON.GZ', gzipSync(json)))).toEqual(await readAll(tempFile('plain.json', json)));
  });

  it('says a log gzip-compressed twice is, whatever its name', async () => {
    const twice = gzipSync(gzipSync('case_id,activity\nA,approve loan\n'));
    for (const name of ['twice.csv.gz', 'twice.csv']) {
      const error = await readError(tempFile(name, twice));
      expect((error as LogInputError).message).toBe(`${(error as LogInputError).file}: the data is gzip-compressed twice; decompress it once (gunzip) and score the result`);
    }
  });

  it('rejects an unknown format option', async () => {
    const error = await readError(tempFile('log2.csv', 'case_id,activity\nA,b\n'), { format: 'yaml' as 'csv' });
    expect((error as LogInputError).message).toContain('unknown log format "yaml"');
  });

  it.each(['empty.csv', 'empty.xes', 'empty.json', 'blank.xes'])('reports %s as no traces', async (name) => {
    const error = await readError(tempFile(name, name.startsWith('blank') ? '\n  \n' : ''));
    expect(error).toBeInstanceOf(LogInputError);
    expect((error as LogInputError).message).toBe(`${(error as LogInputError).file}: no traces parsed from the input file`);
  });

  it('reports a missing file', async () => {
    const error = await readError('/nonexistent/dir/log.csv');
    expect((error as LogInputError).message).toBe('/nonexistent/dir/log.csv: file not found');
  });

  it('names UTF-16 input instead of only rejecting its bytes', async () => {
    const error = await readError(tempFile('utf16.csv', Buffer.from('\ufeffcase_id,activity\n', 'utf16le')));
    expect((error as LogInputError).byte).toBe(0);
    expect((error as LogInputError).message).toContain('looks UTF-16 encoded');
  });

  it('names a ZIP archive (an export handed out zipped, an Excel workbook) instead of only rejecting its bytes', async () => {
    // A one-entry ZIP as zip tools write it: the local file header of log.csv, then its deflated bytes.
    const csv = Buffer.from('case_id,activity,risk_score\nA,approve loan,0.9\n');
    const data = deflateRawSync(csv);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(8, 8);
    header.writeUInt32LE(crc32(csv), 14);
    header.writeUInt32LE(data.length, 18);
    header.writeUInt32LE(csv.length, 22);
    header.writeUInt16LE('log.csv'.length, 26);
    const zip = Buffer.concat([header, Buffer.from('log.csv'), data]);
    for (const name of ['export.csv', 'export.xes', 'export.json']) {
      const error = (await readError(tempFile(name, zip))) as LogInputError;
      expect(error.message, name).toMatch(/: invalid UTF-8; logs must be UTF-8 encoded \(the file is a ZIP archive, as an Excel \.xlsx workbook is too: extract the log from it, or save the sheet as CSV\)$/);
    }
  });

  it('numbers traces from 0 in input order', async () => {
    const items = await readAll(tempFile('order.csv', 'case_id,activity\nZ,a\nA,b\nM,c\n'));
    expect(items.map((item) => [item.index, item.attributes['case_id']])).toEqual([
      [0, 'Z'],
      [1, 'A'],
      [2, 'M'],
    ]);
  });
});
