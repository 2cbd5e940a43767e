import { chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { modelPath, readFixture, STREAM_BUNDLES, FIXTURES } from '../helpers/fixtures.js';
import { CLI, CliProcess, copyBundle, tempDir, editSidecar, permissionsCanApply, removeTempDirs, runCli, type JsonObject } from '../helpers/cli.js';
import { expectScoreClose } from '../helpers/tolerance.js';

interface Entry {
  trace_index: number;
  attributes: Record<string, string>;
  trace_score?: number;
  per_transition_residuals?: Record<string, number>;
  error?: string;
}

afterAll(removeTempDirs);

function expectReportMatches(actual: Entry[], expected: Entry[], where: string): void {
  expect(actual, where).toHaveLength(expected.length);
  actual.forEach((entry, i) => {
    const petra = expected[i]!;
    const at = `${where} trace ${i}`;
    expect(Object.keys(entry), at).toEqual(Object.keys(petra));
    expect(entry.trace_index, at).toBe(petra.trace_index);
    expect(entry.attributes, at).toEqual(petra.attributes);
    if (petra.error !== undefined) expect(entry.error, at).toBe(petra.error);
    else expectScoreClose(entry as Required<Entry>, petra as Required<Entry>, at);
  });
}

const LOG_BUNDLES = STREAM_BUNDLES;

describe.each(LOG_BUNDLES)('petrascore score on %s matches petra-score', (bundle) => {
  const cliArgs = readFixture<{ args: Record<'csv' | 'xes' | 'json', string[]> }>(bundle, 'score_cli_args.json').args;

  it.each(['csv', 'xes', 'json'] as const)('for log.%s', async (format) => {
    const result = await runCli(['score', modelPath(bundle), '--traces', join(FIXTURES, bundle, `log.${format}`), ...cliArgs[format]]);
    expect(result.code, result.stderr).toBe(0);
    const expected = readFixture<Entry[]>(bundle, `score_${format}_expected.json`);
    expectReportMatches(JSON.parse(result.stdout) as Entry[], expected, `${bundle} ${format}`);
    // Byte for byte petra-score's layout; only the last digits of floats may differ (onnxruntime vs torch).
    const shape = (text: string) => text.replace(/-?\d+\.\d+(e[-+]\d+)?|-?\d+e[-+]\d+/g, 'F');
    expect(shape(result.stdout)).toBe(shape(readFileSync(join(FIXTURES, bundle, `score_${format}_expected.json`), 'utf8')));
    const errors = expected.filter((e) => e.error !== undefined).length;
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    expect(result.stderr).toMatch(new RegExp(`^scored ${plural(expected.length, 'trace')} \\(${plural(errors, 'error')}\\) in [\\d.]+ s → stdout$`, 'm'));
  });
});

/** Rows as Python's csv writer writes them (QUOTE_MINIMAL): a cell holding the delimiter, a quote or a line break is quoted. */
function writeCsv(rows: readonly string[][], delimiter: string, lineBreak: string): string {
  const quote = (cell: string) => (cell.includes(delimiter) || /["\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell);
  return rows.map((row) => row.map(quote).join(delimiter) + lineBreak).join('');
}

function fixtureRows(bundle: string): string[][] {
  const text = readFileSync(join(FIXTURES, bundle, 'log.csv'), 'utf8');
  // The fixtures quote nothing and end rows with \n, so splitting reads them as Python's csv does.
  expect(text).not.toMatch(/["\r]/);
  return text.replace(/\n$/, '').split('\n').map((line) => line.split(','));
}

describe('petrascore score on a net whose transition ids are integers', () => {
  it('writes each entry\'s residuals in sorted-id order ("10" before "9"), as petra-score\'s sort_keys does', async () => {
    const bundle = copyBundle('onnx_deployment');
    // PETRA's sorted order is the graph's output order: "10" (was t_approve) before "9" (was t_decline).
    editSidecar(bundle, (sidecar) => JSON.parse(JSON.stringify(sidecar).replaceAll('"t_approve"', '"10"').replaceAll('"t_decline"', '"9"')) as JsonObject);
    const log = join(FIXTURES, 'onnx_deployment', 'log.csv');
    const args = readFixture<{ args: { csv: string[] } }>('onnx_deployment', 'score_cli_args.json').args.csv;
    for (const format of [[], ['--output-format', 'ndjson']]) {
      const result = await runCli(['score', bundle.model, '--traces', log, ...args, ...format]);
      expect(result.code, result.stderr).toBe(0);
      const keys = [...result.stdout.matchAll(/"(\d+)":/g)].map((m) => m[1]);
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.every((key, i) => key === (i % 2 === 0 ? '10' : '9')), keys.slice(0, 4).join(' ')).toBe(true);
    }
    const renamed = await runCli(['score', bundle.model, '--traces', log, ...args]);
    const expected = readFixture<Entry[]>('onnx_deployment', 'score_csv_expected.json').map((entry) => {
      const residuals = entry.per_transition_residuals;
      return residuals === undefined ? entry : { ...entry, per_transition_residuals: { '10': residuals.t_approve!, '9': residuals.t_decline! } };
    });
    expectReportMatches(JSON.parse(renamed.stdout) as Entry[], expected, 'integer ids');
  });
});

describe.each(LOG_BUNDLES)('petrascore score --csv-delimiter on %s', (bundle) => {
  const dir = tempDir('delimiter');
  const args = readFixture<{ args: { csv: string[] } }>(bundle, 'score_cli_args.json').args.csv;
  const score = (file: string, extra: string[] = []) => runCli(['score', modelPath(bundle), '--traces', file, ...args, ...extra]);

  it('gives the comma log\'s report, byte for byte, for the log written with semicolons or tabs', async () => {
    const comma = await score(join(FIXTURES, bundle, 'log.csv'));
    expect(comma.code, comma.stderr).toBe(0);
    expectReportMatches(JSON.parse(comma.stdout) as Entry[], readFixture<Entry[]>(bundle, 'score_csv_expected.json'), `${bundle} csv`);
    const rows = fixtureRows(bundle);
    for (const [delimiter, option] of [[';', ';'], ['\t', 'tab']] as const) {
      const file = join(dir, `log-${option}.csv`);
      writeFileSync(file, writeCsv(rows, delimiter, '\n'));
      const result = await score(file, ['--csv-delimiter', option]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout, option).toBe(comma.stdout);
    }
  });
});

describe('petrascore score --csv-delimiter, quoting', () => {
  const dir = tempDir('delimiter');
  const bundle = 'onnx_deployment';
  const model = modelPath(bundle);

  it('reads quoted cells holding the delimiter, quotes and line breaks as the comma log with the same cells', async () => {
    // A column no spec reads gets cells that need quoting in one dialect or another; the scores stay PETRA's.
    const rows = fixtureRows(bundle);
    const resource = rows[0]!.indexOf('resource');
    const awkward = ['clerk;1, "night"|shift', 'two\nlines|2', 'a "b"', 'plain', 'tab\tonly', 'semi;only', 'comma,only', '"', ''];
    rows.slice(1).forEach((row, i) => (row[resource] = awkward[i % awkward.length]!));
    const commaFile = join(dir, 'awkward-comma.csv');
    writeFileSync(commaFile, writeCsv(rows, ',', '\n'));
    const comma = await runCli(['score', model, '--traces', commaFile]);
    expect(comma.code, comma.stderr).toBe(0);
    expect(comma.stdout).toContain(JSON.stringify('clerk;1, "night"|shift'));
    // Files ending rows with \n are read by papaparse; Excel ends them with \r\n but breaks lines in a cell with \n,
    // which takes the exact parser's path.
    for (const [delimiter, option, lineBreak] of [[';', ';', '\r\n'], ['\t', '\\t', '\n'], ['|', '|', '\n']] as const) {
      const file = join(dir, `awkward-${delimiter.charCodeAt(0)}.csv`);
      writeFileSync(file, writeCsv(rows, delimiter, lineBreak));
      const result = await runCli(['score', model, '--traces', file, '--csv-delimiter', option]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout, option).toBe(comma.stdout);
    }
  });

  it('hints at --csv-delimiter for a semicolon- or tab-separated log read as commas, and refuses a delimiter it does not take', async () => {
    const rows = fixtureRows(bundle);
    for (const [delimiter, hint] of [[';', "semicolon-separated: give --csv-delimiter ';'"], ['\t', 'tab-separated: give --csv-delimiter tab']] as const) {
      const file = join(dir, `unhinted-${delimiter.charCodeAt(0)}.csv`);
      writeFileSync(file, writeCsv(rows, delimiter, '\r\n'));
      const result = await runCli(['score', model, '--traces', file]);
      expect(result.code, result.describe).toBe(2);
      expect(result.stderr).toBe(`petrascore score: ${file} (line 1): the CSV header has no "case_id" column (the case column); header columns: ${JSON.stringify([rows[0]!.join(delimiter)])}; the header looks ${hint}\n`);
    }
    for (const bad of ['::', 'space', ' ', '']) {
      const result = await runCli(['score', model, '--traces', join(FIXTURES, bundle, 'log.csv'), '--csv-delimiter', bad]);
      expect(result.code, result.describe).toBe(2);
      expect(result.stderr).toContain(`petrascore score: --csv-delimiter must be ',', ';', '|' or tab, got '${bad}'`);
      expect(result.stderr).toContain('Usage: petrascore score');
    }
  });

  it('names a mistyped option with the one meant, and an option without its value, in a line of its own', async () => {
    const mistyped = await runCli(['score', model, '--trace', join(FIXTURES, bundle, 'log.csv')]);
    expect(mistyped.code, mistyped.describe).toBe(2);
    expect(mistyped.stderr).toMatch(/^petrascore score: unknown option --trace; did you mean --traces\?\n/);
    const valueless = await runCli(['score', model, '--traces', join(FIXTURES, bundle, 'log.csv'), '-o']);
    expect(valueless.stderr).toMatch(/^petrascore score: --output needs a value\n/);
    const twice = await runCli(['score', model, '--traces', 'missing.csv', '--traces', join(FIXTURES, bundle, 'log.csv')]);
    expect(twice.code, twice.describe).toBe(2);
    expect(twice.stderr).toMatch(/^petrascore score: --traces given twice \("missing.csv" and ".*log.csv"\); give it once\n/);
  });
});

describe('petrascore score output and exit codes', () => {
  const dir = tempDir('score');
  const model = modelPath('onnx_deployment');
  const log = join(FIXTURES, 'onnx_deployment', 'log.csv');

  it('writes NDJSON whose lines are the JSON document entries, to a file given by -o', async () => {
    const json = join(dir, 'report.json');
    const ndjson = join(dir, 'report.ndjson');
    expect((await runCli(['score', model, '--traces', log, '-o', json])).code).toBe(0);
    const result = await runCli(['score', model, '--traces', log, '--output-format', 'ndjson', '--output', ndjson, '--batch-size', '7']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`→ ${ndjson}`);
    const lines = readFileSync(ndjson, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Entry);
    expect(lines).toEqual(JSON.parse(readFileSync(json, 'utf8')));
  });

  it('takes --output-format in any case, as --format and serve\'s choices (JSON was refused as a usage error)', async () => {
    const lower = await runCli(['score', model, '--traces', log, '--output-format', 'ndjson']);
    for (const spelling of ['NDJSON', 'NdJson']) {
      const result = await runCli(['score', model, '--traces', log, '--output-format', spelling]);
      expect(result.code, result.describe).toBe(0);
      expect(result.stdout).toBe(lower.stdout);
    }
    const json = await runCli(['score', model, '--traces', log, '--output-format', 'JSON']);
    expect(json.code, json.describe).toBe(0);
    expect(json.stdout).toBe((await runCli(['score', model, '--traces', log])).stdout);
    const bad = await runCli(['score', model, '--traces', log, '--output-format', 'CSV']);
    expect(bad.code, bad.describe).toBe(2);
    expect(bad.stderr).toMatch(/^petrascore score: --output-format must be json or ndjson, got 'CSV'\n/);
  });

  it('a failed run leaves the previous report at -o as it was; a good one replaces it, keeping its permissions', async () => {
    const out = join(dir, 'nightly.json');
    writeFileSync(out, 'previous report\n');
    chmodSync(out, 0o640);
    const broken = join(dir, 'broken.csv');
    writeFileSync(broken, 'case_id,activity\nA,"approve loan\n');
    for (const traces of [join(dir, 'missing.csv'), broken]) {
      const failed = await runCli(['score', model, '--traces', traces, '-o', out]);
      expect(failed.code, failed.stderr).toBe(2);
      expect(readFileSync(out, 'utf8')).toBe('previous report\n');
    }
    expect((await runCli(['score', model, '--traces', log, '-o', out])).code).toBe(0);
    expect((JSON.parse(readFileSync(out, 'utf8')) as Entry[]).length).toBeGreaterThan(0);
    expect(statSync(out).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).filter((name) => name.includes('.partial'))).toEqual([]);
  });

  // Only root can make a file another user owns, and give the new report to that user.
  it.skipIf(process.getuid?.() !== 0)('a report replaced by root keeps its owner (a service account can still read it)', async () => {
    const out = join(dir, 'owned.json');
    writeFileSync(out, 'previous report\n', { mode: 0o600 });
    chownSync(out, 65534, 65534);
    expect((await runCli(['score', model, '--traces', log, '-o', out])).code).toBe(0);
    const stats = statSync(out);
    expect([stats.uid, stats.gid, stats.mode & 0o777]).toEqual([65534, 65534, 0o600]);
    expect(readFileSync(out, 'utf8')).toMatch(/^\[/);
  });

  it.skipIf(process.getuid?.() !== 0 || !permissionsCanApply)('a report replaced by root without CAP_FOWNER (a systemd unit may lack it) keeps its owner and its mode: a 600 report does not turn 644', async () => {
    const out = join(dir, 'private.json');
    writeFileSync(out, 'previous report\n', { mode: 0o600 });
    chownSync(out, 65534, 65534);
    // With CAP_CHOWN and without CAP_FOWNER, root may give the report away but not change its mode afterwards.
    const result = await runCli(['score', model, '--traces', log, '-o', out], { withoutCapabilities: ['fowner'] });
    expect(result.code, result.describe).toBe(0);
    const stats = statSync(out);
    expect([stats.uid, stats.gid, (stats.mode & 0o777).toString(8)]).toEqual([65534, 65534, '600']);
    expect(readFileSync(out, 'utf8')).toMatch(/^\[/);
  });

  it("an -o OUT that is the log being scored or the bundle's model or sidecar (by any name): exit 2 before scoring, the file left as it was", async () => {
    const bundle = copyBundle('onnx_deployment');
    const ownLog = join(bundle.dir, 'log.csv');
    copyFileSync(log, ownLog);
    const linkToLog = join(bundle.dir, 'report-link.json');
    symlinkSync(ownLog, linkToLog);
    for (const [out, what, file] of [
      [ownLog, 'the log being scored (--traces)', ownLog],
      [linkToLog, 'the log being scored (--traces)', ownLog],
      [bundle.model, "the bundle's model", bundle.model],
      [join(bundle.dir, '.', 'model.onnx.meta.json'), "the bundle's sidecar", bundle.sidecar],
    ] as const) {
      const before = readFileSync(file);
      const result = await runCli(['score', bundle.model, '--traces', ownLog, '-o', out]);
      expect(result.code, result.describe).toBe(2);
      expect(result.stderr).toBe(`petrascore score: cannot write ${out}: it is ${what} (${file}), which the report would replace; give another file\n`);
      expect(readFileSync(file).equals(before), out).toBe(true);
    }
    // The log given on standard input (`--traces - < log.csv -o log.csv` was scored and replaced it).
    const before = readFileSync(ownLog);
    const result = await runCli(['score', bundle.model, '--traces', '-', '--format', 'csv', '-o', ownLog], { stdinFrom: ownLog });
    expect(result.code, result.describe).toBe(2);
    expect(result.stderr).toBe(`petrascore score: cannot write ${ownLog}: it is the log being scored, read from standard input (/dev/stdin), which the report would replace; give another file\n`);
    expect(readFileSync(ownLog).equals(before)).toBe(true);
  });

  it('an -o OUT in a missing directory: exit 2 and one line naming OUT', async () => {
    const out = join(dir, 'no-such-dir', 'report.json');
    const result = await runCli(['score', model, '--traces', log, '-o', out]);
    expect(result.code, result.describe).toBe(2);
    expect(result.stderr).toBe(`petrascore score: cannot write ${out}: directory ${join(dir, 'no-such-dir')} does not exist\n`);
  });

  it('an -o OUT whose name the file system refuses (over 255 bytes): exit 2 and one line before the log is read, not once it is scored', async () => {
    const runDir = join(dir, 'too-long');
    mkdirSync(runDir);
    const out = join(runDir, `${'n'.repeat(295)}.json`);
    const expected = `petrascore score: cannot write ${out}: its file name is 300 bytes long, more than the 255 a file name may have\n`;
    // Said before the log is opened: a missing log is not what the run stops at.
    for (const traces of [log, join(dir, 'missing.csv')]) {
      const result = await runCli(['score', model, '--traces', traces, '-o', out]);
      expect(result.code, result.describe).toBe(2);
      expect(result.stderr).toBe(expected);
      expect(result.stdout).toBe('');
    }
    const deep = join(runDir, 'd'.repeat(300), 'report.json');
    const inLongDirectory = await runCli(['score', model, '--traces', join(dir, 'missing.csv'), '-o', deep]);
    expect(inLongDirectory.code, inLongDirectory.describe).toBe(2);
    expect(inLongDirectory.stderr).toBe(`petrascore score: cannot write ${deep}: the path is longer than the file system takes (ENAMETOOLONG)\n`);
    expect(readdirSync(runDir)).toEqual([]);
  });

  it('an -o OUT that is a directory (or links to one), or a symbolic link into a missing one: exit 2 before scoring, one line saying so', async () => {
    const folder = join(dir, 'reports-folder');
    mkdirSync(folder, { recursive: true });
    const asDirectory = await runCli(['score', model, '--traces', log, '-o', folder]);
    expect(asDirectory.code, asDirectory.describe).toBe(2);
    expect(asDirectory.stderr).toBe(`petrascore score: cannot write ${folder}: it is a directory; -o takes the report's file name\n`);
    const toFolder = join(dir, 'folder-link');
    symlinkSync(folder, toFolder);
    const throughLink = await runCli(['score', model, '--traces', log, '-o', toFolder]);
    expect(throughLink.code, throughLink.describe).toBe(2);
    expect(throughLink.stderr).toBe(`petrascore score: cannot write ${toFolder}: it is a directory; -o takes the report's file name\n`);
    const link = join(dir, 'dangling.json');
    symlinkSync(join(dir, 'gone', 'report.json'), link);
    const dangling = await runCli(['score', model, '--traces', log, '-o', link]);
    expect(dangling.code, dangling.describe).toBe(2);
    expect(dangling.stderr).toBe(`petrascore score: cannot write ${link}: its directory does not exist (it is a symbolic link to ${join(dir, 'gone', 'report.json')})\n`);
  });

  it.skipIf(!permissionsCanApply)('writes an existing report in a read-only directory in place; refuses a new one there (exit 2)', async () => {
    const readOnly = join(dir, 'read-only');
    mkdirSync(readOnly);
    const out = join(readOnly, 'nightly.json');
    writeFileSync(out, 'previous report\n');
    chmodSync(readOnly, 0o555);
    try {
      const written = await runCli(['score', model, '--traces', log, '-o', out], { permissionsApply: true });
      expect(written.code, written.describe).toBe(0);
      expect((JSON.parse(readFileSync(out, 'utf8')) as Entry[]).length).toBeGreaterThan(0);
      const fresh = join(readOnly, 'new.json');
      // Refused before the log is read (a missing log is not what it stops at), not after the read of an unsorted CSV.
      for (const traces of [log, join(dir, 'missing.csv')]) {
        const refused = await runCli(['score', model, '--traces', traces, '-o', fresh], { permissionsApply: true });
        expect(refused.code, refused.describe).toBe(2);
        expect(refused.stderr).toBe(`petrascore score: cannot write ${fresh}: permission denied: directory ${readOnly} takes no new file\n`);
      }
      expect(readdirSync(readOnly)).toEqual(['nightly.json']);
    } finally {
      chmodSync(readOnly, 0o755);
    }
  });

  it.skipIf(!permissionsCanApply)('refuses a report the user may not write before the log is read, and leaves it as it was', async () => {
    const out = join(dir, 'locked.json');
    writeFileSync(out, 'previous report\n');
    chmodSync(out, 0o444);
    for (const traces of [log, join(dir, 'missing.csv')]) {
      const refused = await runCli(['score', model, '--traces', traces, '-o', out], { permissionsApply: true });
      expect(refused.code, refused.describe).toBe(2);
      expect(refused.stderr).toBe(`petrascore score: cannot write ${out}: permission denied\n`);
      expect(readFileSync(out, 'utf8')).toBe('previous report\n');
    }
    expect(readdirSync(dir).filter((name) => name.includes('.partial'))).toEqual([]);
  });

  it.skipIf(!permissionsCanApply)('leaves no onnxruntime telemetry behind and prints only its summary, also where HOME is not writable', async () => {
    for (const writable of [true, false]) {
      const home = join(dir, `home-${writable}`);
      const cwd = join(dir, `cwd-${writable}`);
      mkdirSync(home, { mode: writable ? 0o755 : 0o555 });
      mkdirSync(cwd);
      const result = await runCli(['score', model, '--traces', log, '-o', '/dev/null'], { env: { HOME: home }, cwd, permissionsApply: true });
      expect(result.code, result.describe).toBe(0);
      // The summary, and the note of the log's one name that is no label.
      expect(result.stderr).toMatch(/^scored 30 traces \(1 error\) in [\d.]+ s → \/dev\/null\npetrascore score: note: 1 distinct event name matches no transition label and was ignored, as petra-score ignores them: "[^"]+"\n$/);
      // onnxruntime's own telemetry keeps a device id under ~/.cache/Microsoft, or a ':memory:.ses' file in the working directory.
      expect([readdirSync(home), readdirSync(cwd)]).toEqual([[], []]);
    }
  });

  it('gives the same report for --sorted on a log ordered by case, and refuses an unsorted one with the line', async () => {
    const sorted = join(dir, 'sorted.csv');
    writeFileSync(sorted, 'case_id,activity,risk_score\nA,approve loan,0.9\nA,decline loan,0.9\nB,decline loan,0.1\n');
    const plain = await runCli(['score', model, '--traces', sorted]);
    const streamed = await runCli(['score', model, '--traces', sorted, '--sorted']);
    expect(streamed.code).toBe(0);
    expect(streamed.stdout).toBe(plain.stdout);
    const unsorted = join(dir, 'unsorted.csv');
    writeFileSync(unsorted, 'case_id,activity,risk_score\nA,approve loan,0.9\nB,decline loan,0.1\nA,decline loan,0.9\n');
    const refused = await runCli(['score', model, '--traces', unsorted, '--sorted']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/line 4/);
  });

  it('reports a non-numeric or empty attribute per trace where PETRA aborts, and goes on (exit 0)', async () => {
    const file = join(dir, 'bad-values.csv');
    writeFileSync(file, 'case_id,activity,risk_score\nA,approve loan,abc\nB,decline loan,\nC,decline loan,0.1\nD,approve loan,1e39\n');
    const result = await runCli(['score', model, '--traces', file]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Entry[];
    expect(report.map((e) => e.error === undefined)).toEqual([false, false, true, false]);
    expect(report[0]!.error).toMatch(/risk_score.*"abc".*not a finite number/);
    expect(report[3]!.error).toMatch(/risk_score.*"1e39".*beyond ±3\.4e38/);
    expect(result.stderr).toMatch(/scored 4 traces \(3 errors\)/);
  });

  it.each([
    [['score'], /missing BUNDLE\.onnx/],
    [['score', 'models/loan_approval/model.onnx'], /missing --traces/],
    [['score', 'models/loan_approval/model.onnx', '--traces', 'x.csv', '--batch-size', '0'], /--batch-size/],
    [['score', 'models/loan_approval/model.onnx', '--traces', 'x.csv', '--bogus'], /bogus/],
    // Number() reads '0x1' as 1 (never fail) and ' 0.5' as 0.5: a decimal written out only, as --batch-size's.
    [['score', 'models/loan_approval/model.onnx', '--traces', 'x.csv', '--max-error-rate', '0x1'], /--max-error-rate must be a number from 0 to 1, got '0x1'/],
    [['score', 'models/loan_approval/model.onnx', '--traces', 'x.csv', '--max-error-rate', ' 0.5'], /--max-error-rate must be a number from 0 to 1, got ' 0.5'/],
  ])('exits 2 with the usage for %j', async (args, message) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('Usage: petrascore score');
  });

  it('stops quietly with exit 0 when the reader of its output goes away (| head)', async () => {
    const cli = new CliProcess(['score', model, '--traces', log]);
    // The reading end closes before anything is written: every write to stdout fails with EPIPE.
    cli.child.stdout?.destroy();
    const status = await cli.exited;
    expect(status.code, cli.describe()).toBe(0);
    expect(cli.stderr).not.toMatch(/EPIPE|Error|^\s+at /m);
  });

  it('stops quietly with exit 0 when the reader of an -o that is a pipe goes away (-o /dev/stdout | head)', () => {
    // A shell's pipe: /dev/stdout cannot be opened on the socket a child's stdout is under Node.
    const quoted = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;
    const command = [process.execPath, CLI, 'score', model, '--traces', log, '-o', '/dev/stdout'].map(quoted).join(' ');
    const result = spawnSync('bash', ['-c', `${command} 2>"$ERR" | head -c 10 >/dev/null; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8', env: { ...process.env, ERR: join(dir, 'pipe-stderr.txt') } });
    expect(result.stdout.trim(), readFileSync(join(dir, 'pipe-stderr.txt'), 'utf8')).toBe('0');
    expect(readFileSync(join(dir, 'pipe-stderr.txt'), 'utf8')).not.toMatch(/EPIPE|Error|^\s+at /m);
  });

  it('exits 2 naming the file for an unreadable log, a malformed XES, an unknown format and a bad bundle, without a stack trace', async () => {
    const malformed = join(dir, 'broken.xes');
    writeFileSync(malformed, '<log>\n<trace>\n<string key="concept:name" value="A">\n</log>\n');
    const cases: [string[], RegExp][] = [
      [['score', model, '--traces', join(dir, 'missing.csv')], /missing\.csv.*(not found|no such file)/i],
      [['score', model, '--traces', malformed], /broken\.xes \(line \d+/],
      [['score', model, '--traces', join(dir, 'log.txt')], /log\.txt.*format/],
      [['score', join(dir, 'nope.onnx'), '--traces', log], /nope\.onnx: file not found/],
    ];
    writeFileSync(join(dir, 'log.txt'), 'x');
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it('refuses a --batch-size beyond its range, an empty -o and a directory -o before reading, and takes -o - as stdout', async () => {
    const cases: [string[], RegExp][] = [
      [['--batch-size', '99999999999'], /--batch-size must be a whole number from 1 to 65536, got '99999999999'/],
      [['-o', ''], /-o needs a file name, got an empty one/],
      [['-o', join(dir, 'newdir') + '/'], /-o needs a file name, got the directory/],
    ];
    for (const [extra, message] of cases) {
      const result = await runCli(['score', model, '--traces', log, ...extra]);
      expect(result.code, result.describe).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    }
    const dash = await runCli(['score', model, '--traces', log, '-o', '-']);
    expect(dash.code, dash.describe).toBe(0);
    expect(dash.stdout).toBe((await runCli(['score', model, '--traces', log])).stdout);
    expect(existsSync(join(process.cwd(), '-'))).toBe(false);
  });

  it('says that --sorted and the CSV column options do not apply to an XES or JSON log, and scores it', async () => {
    const xes = join(FIXTURES, 'onnx_deployment', 'log.xes');
    const result = await runCli(['score', model, '--traces', xes, '--sorted', '--case-column', 'id', '-o', '/dev/null']);
    expect(result.code, result.describe).toBe(0);
    expect(result.stderr.split('\n')[0]).toBe(`petrascore score: --sorted and --case-column apply to CSV logs only; ${xes} is read as XES`);
    const json = join(FIXTURES, 'onnx_deployment', 'log.json');
    const delimited = await runCli(['score', model, '--traces', json, '--csv-delimiter', 'tab', '-o', '/dev/null']);
    expect(delimited.code, delimited.describe).toBe(0);
    expect(delimited.stderr.split('\n')[0]).toBe(`petrascore score: --csv-delimiter applies to CSV logs only; ${json} is read as JSON`);
    const csv = await runCli(['score', model, '--traces', log, '--sorted', '--csv-delimiter', ',', '-o', '/dev/null']);
    expect(csv.stderr).not.toMatch(/CSV logs only/);
  });

  it('leaves what a symbolic link -o points to as it was when the log cannot be read, though it writes through the link', async () => {
    const target = join(dir, 'linked-report.json');
    const link = join(dir, 'report-link.json');
    writeFileSync(target, 'previous report\n');
    symlinkSync(target, link);
    for (const traces of [join(dir, 'missing.csv'), join(dir, 'empty.csv')]) {
      writeFileSync(join(dir, 'empty.csv'), 'case_id,activity\n');
      const failed = await runCli(['score', model, '--traces', traces, '-o', link]);
      expect(failed.code, failed.describe).toBe(2);
      expect(readFileSync(target, 'utf8')).toBe('previous report\n');
    }
    expect((await runCli(['score', model, '--traces', log, '-o', link])).code).toBe(0);
    expect(readFileSync(target, 'utf8')).toMatch(/^\[/);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('SIGTERM, SIGINT or SIGHUP mid-run: exit 143, 130 or 129, the report at -o as it was, no temporary file left', async () => {
    // Long enough to be interrupted while it writes: 200,000 one-event cases, read case by case (--sorted).
    const long = join(dir, 'long.csv');
    writeFileSync(long, `case_id,activity,risk_score\n${Array.from({ length: 200_000 }, (_, i) => `C${i},approve loan,0.${i % 10}\n`).join('')}`);
    const runDir = join(dir, 'interrupted');
    mkdirSync(runDir);
    const out = join(runDir, 'nightly.json');
    for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
      writeFileSync(out, 'previous report\n');
      const cli = new CliProcess(['score', model, '--traces', long, '--sorted', '-o', out]);
      const deadline = Date.now() + 10_000;
      while (!readdirSync(runDir).some((name) => name.endsWith('.partial'))) {
        if (Date.now() > deadline || cli.exitStatus !== undefined) throw new Error(`no report being written\n${cli.describe()}`);
        await sleep(5);
      }
      cli.signal(signal);
      const exit = await cli.waitForExit();
      expect(exit, cli.describe()).toEqual({ code, signal: null });
      expect(cli.stderr).toBe(`petrascore score: interrupted by ${signal}; ${out} is left as it was\n`);
      expect(readFileSync(out, 'utf8')).toBe('previous report\n');
      expect(readdirSync(runDir)).toEqual(['nightly.json']);
    }
  });

  it('warns of blank rows and a repeated header, which it reads as petra-score does (a phantom case scored), with their lines', async () => {
    const incident = 'incident_management';
    const fixture = readFileSync(join(FIXTURES, incident, 'log.csv'), 'utf8');
    const [header] = fixture.split(/\r?\n/, 1);
    const lines = fixture.trimEnd().split(/\r?\n/).length;
    const suspicious = join(dir, 'suspicious.csv');
    writeFileSync(suspicious, `${fixture.trimEnd()}\n,,,,\n   \n${header}\n`);
    const args = readFixture<{ args: { csv: string[] } }>(incident, 'score_cli_args.json').args.csv;
    const result = await runCli(['score', modelPath(incident), '--traces', suspicious, ...args]);
    expect(result.code, result.stderr).toBe(0);
    const ids = (JSON.parse(result.stdout) as Entry[]).map((e) => e.attributes.case_id);
    // As PETRA reads them: the blank rows are events of cases "" and "   ", the header an event of case "case_id".
    expect(ids.slice(-3)).toEqual(['', '   ', 'case_id']);
    expect(result.stderr).toContain(`warning: ${suspicious}: 2 rows with every cell empty or blank (first at line ${lines + 1}) read as events of case "" and others`);
    expect(result.stderr).toContain(`warning: ${suspicious}: 1 row repeating the header (first at line ${lines + 3}; two exports joined?)`);

    const clean = await runCli(['score', modelPath(incident), '--traces', join(FIXTURES, incident, 'log.csv'), ...args]);
    expect(clean.stderr).not.toMatch(/warning/);
  });

  it('refuses, in one line and exit 2, a bundle whose graph takes one row at a time (exported without a dynamic batch axis), which passed the warm-up and then crashed with a stack trace', async () => {
    const bundle = copyBundle('onnx_deployment');
    const model = readFileSync(bundle.model);
    // Dimension {dim_param: "batch"} of the input rewritten in place as {dim_value: 1, denotation: "DIM"}: what
    // torch.onnx.export writes without dynamic_axes.
    const at = model.indexOf(Buffer.from('\x0a\x07\x12\x05batch', 'latin1'));
    expect(at).toBeGreaterThan(0);
    Buffer.from('\x0a\x07\x08\x01\x1a\x03DIM', 'latin1').copy(model, at);
    writeFileSync(bundle.model, model);
    const log = join(FIXTURES, 'onnx_deployment', 'log.csv');
    const result = await runCli(['score', bundle.model, '--traces', log]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `petrascore score: bad bundle: ${bundle.model}: graph input 'marking__p_application' has a fixed batch size of 1 (shape [1]), but petrascore runs many rows at once: export it with a dynamic batch axis (torch.onnx.export's dynamic_axes, as PETRA's export_onnx does)\n`,
    );
    const validate = await runCli(['validate', bundle.model]);
    expect(validate.code, validate.stderr).toBe(1);
    expect(validate.stderr).toContain('has a fixed batch size of 1');
  });

  it('says what the sidecar leaves doubtful, as serve logs it and validate prints it (it said nothing)', async () => {
    const bundle = copyBundle('onnx_deployment');
    editSidecar(bundle, (sidecar) => {
      // A minimal sidecar: no input_defaults, and an output whose label was left out.
      delete sidecar.input_defaults;
      const labels = sidecar.transition_labels as Record<string, string>;
      delete labels.t_decline;
    });
    const result = await runCli(['score', bundle.model, '--traces', join(FIXTURES, 'onnx_deployment', 'log.csv')]);
    expect(result.code, result.stderr).toBe(0);
    const warnings = result.stderr.split('\n').filter((line) => line.startsWith(`petrascore score: warning: ${bundle.sidecar}: `));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('input_defaults absent: derived from initial_marking (marking__p_application=1)');
    expect(warnings[1]).toContain("transition_labels has no label for output 't_decline'; its id is used as label");
    const validate = await runCli(['validate', bundle.model]);
    expect(validate.stderr.trim().split('\n')).toEqual(warnings.map((line) => line.replace(`petrascore score: warning: ${bundle.sidecar}: `, 'warning: ')));

    const full = await runCli(['score', modelPath('onnx_deployment'), '--traces', join(FIXTURES, 'onnx_deployment', 'log.csv')]);
    expect(full.stderr).not.toContain('warning');
  });

  it('warns of a CSV export cut off mid-row (its last row short of cells), and scores that row as petra-score does', async () => {
    const text = readFileSync(log, 'utf8');
    const lines = text.trimEnd().split('\n');
    const cut = join(dir, 'cut-off.csv');
    // The last row, C034's only one, loses its channel's end and its risk_score.
    writeFileSync(cut, text.slice(0, text.trimEnd().lastIndexOf(',web,') + ',w'.length));
    const result = await runCli(['score', model, '--traces', cut]);
    expect(result.code, result.describe).toBe(0);
    const report = JSON.parse(result.stdout) as Entry[];
    expect(report).toHaveLength(30);
    // PETRA drops the absent cells: the case misses the attribute its spec reads.
    expect(report.at(-1)!.attributes).toEqual({ case_id: 'C034', resource: 'clerk-3', timestamp: '2024-01-06T08:00:00Z', channel: 'w' });
    expect(report.at(-1)!.error).toMatch(/^missing attribute: "trace missing attribute 'risk_score'/);
    expect(result.stderr).toContain(`petrascore score: warning: ${cut}: the last row (line ${lines.length}) has 5 of the header's 6 cells, and is read as petra-score reads it (the missing cells absent); was the export cut off?\n`);
    // A header written with a trailing delimiter over rows without one: every row is as short as the last.
    const trailing = join(dir, 'header-trailing-comma.csv');
    writeFileSync(trailing, `${lines[0]},\n${lines.slice(1).join('\n')}\n`);
    const consistent = await runCli(['score', model, '--traces', trailing]);
    expect(consistent.code, consistent.describe).toBe(0);
    expect(consistent.stderr).not.toContain('cut off');
  });

  it('warns of a repeated header that carries a byte-order mark, as two joined exports of Excel\'s "CSV UTF-8" have it', async () => {
    const bom = '\ufeff';
    // The case column first (the mark is on the case cell) and second (the mark is on another cell).
    for (const header of ['case_id,activity,risk_score', 'activity,case_id,risk_score']) {
      const row = (id: string, score: string) => (header.startsWith('case_id') ? `${id},approve loan,${score}` : `approve loan,${id},${score}`);
      const joined = join(dir, 'joined-exports.csv');
      writeFileSync(joined, `${bom}${header}\r\n${row('A', '0.9')}\r\n${bom}${header}\r\n${row('B', '0.8')}\r\n`);
      const result = await runCli(['score', 'models/loan_approval/model.onnx', '--traces', joined]);
      expect(result.code, result.stderr).toBe(0);
      // Read as PETRA would read the joined file past its first header: the second header is an event of a case of its own.
      const ids = (JSON.parse(result.stdout) as Entry[]).map((e) => e.attributes.case_id);
      const phantom = header.startsWith('case_id') ? `${bom}case_id` : 'case_id';
      expect(ids).toEqual(['A', phantom, 'B']);
      const shown = header.startsWith('case_id') ? '"\\ufeffcase_id"' : '"case_id"';
      expect(result.stderr, header).toContain(`warning: ${joined}: 1 row repeating the header (first at line 3; two exports joined?) read as events of case ${shown}`);
    }
    // Quoted headers: after the mark the quote opens no quoted cell, so the repeated case cell keeps its quotes.
    const quoted = join(dir, 'joined-quoted-exports.csv');
    const header = '"case_id","activity","risk_score"';
    writeFileSync(quoted, `${bom}${header}\r\nA,approve loan,0.9\r\n${bom}${header}\r\nB,approve loan,0.8\r\n`);
    const result = await runCli(['score', 'models/loan_approval/model.onnx', '--traces', quoted]);
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as Entry[]).map((e) => e.attributes.case_id)).toEqual(['A', `${bom}"case_id"`, 'B']);
    expect(result.stderr).toContain(`warning: ${quoted}: 1 row repeating the header (first at line 3; two exports joined?) read as events of case "\\ufeff\\"case_id\\""`);
  });

  it('says when no event name matches a label (a wrong --activity-column), and exits 3 beyond --max-error-rate with the report written', async () => {
    const wrongColumn = join(dir, 'wrong-column.csv');
    writeFileSync(wrongColumn, 'case_id,activity,step,risk_score\nA,approve loan,Task_1,0.9\nB,decline loan,Task_2,0.1\n');
    const result = await runCli(['score', 'models/loan_approval/model.onnx', '--traces', wrongColumn, '--activity-column', 'step']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/warning: no event name in the log is a transition label.*is --activity-column 'step' the activity\?\)\. Names in the log: "Task_1", "Task_2"; the bundle's labels: "approve loan", "decline loan"/);
    const right = await runCli(['score', 'models/loan_approval/model.onnx', '--traces', wrongColumn]);
    expect(right.stderr).not.toMatch(/warning|note/);
    // An event name of 100,000 characters is quoted in its first 200 (the note held all of it).
    const longName = join(dir, 'long-name.csv');
    writeFileSync(longName, `case_id,activity,risk_score\nA,approve loan,0.9\nA,${'x'.repeat(100_000)},0.9\n`);
    const long = await runCli(['score', 'models/loan_approval/model.onnx', '--traces', longName]);
    expect(long.stderr).toContain(`note: 1 distinct event name matches no transition label and was ignored, as petra-score ignores them: "${'x'.repeat(200)}…"\n`);
    expect(long.stderr.length).toBeLessThan(1000);

    const failing = join(dir, 'failing.csv');
    writeFileSync(failing, 'case_id,activity,RISK_SCORE\nA,approve loan,0.9\nB,decline loan,0.1\nC,approve loan,0.5\n');
    const out = join(dir, 'failing.json');
    const strict = await runCli(['score', 'models/loan_approval/model.onnx', '--traces', failing, '--max-error-rate', '0.5', '-o', out]);
    expect(strict.code, strict.describe).toBe(3);
    expect(strict.stderr).toMatch(/warning: every trace carries an error entry/);
    expect(strict.stderr).toMatch(/3 of 3 traces \(100\.0%\) carry error entries, more than --max-error-rate 0\.5/);
    expect((JSON.parse(readFileSync(out, 'utf8')) as Entry[]).map((e) => e.error)).toHaveLength(3);
    expect((await runCli(['score', 'models/loan_approval/model.onnx', '--traces', failing])).code).toBe(0);
    expect((await runCli(['score', 'models/loan_approval/model.onnx', '--traces', failing, '--max-error-rate', '2'])).code).toBe(2);
  });

  it('reads gzip by its content whatever the name, standard input with --format (any case), and an empty log with --allow-empty', async () => {
    const expected = (await runCli(['score', model, '--traces', log])).stdout;
    const disguised = join(dir, 'nightly-export.csv');
    writeFileSync(disguised, gzipSync(readFileSync(log)));
    const gzipped = await runCli(['score', model, '--traces', disguised]);
    expect(gzipped.code, gzipped.stderr).toBe(0);
    expect(gzipped.stdout).toBe(expected);
    const piped = await runCli(['score', model, '--traces', '-', '--format', 'CSV'], { stdinFrom: disguised });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toBe(expected);
    expect((await runCli(['score', model, '--traces', '-'], { stdinFrom: log })).stderr).toMatch(/--traces - \(standard input\) needs --format/);
    // A directory on standard input (`< logs/`) read as empty and said "no traces parsed".
    const directory = await runCli(['score', model, '--traces', '-', '--format', 'csv'], { stdinFrom: dir });
    expect(directory.code, directory.describe).toBe(2);
    expect(directory.stderr).toBe('petrascore score: standard input: is a directory, expected a log file\n');

    const headerOnly = join(dir, 'quiet-day.csv');
    writeFileSync(headerOnly, 'case_id,activity,risk_score\n');
    expect((await runCli(['score', model, '--traces', headerOnly])).code).toBe(2);
    const empty = await runCli(['score', model, '--traces', headerOnly, '--allow-empty']);
    expect(empty.code, empty.stderr).toBe(0);
    expect(JSON.parse(empty.stdout)).toEqual([]);
  });

  it('a killed run’s stale temporary report is removed by the next run, a recent one is not', async () => {
    const runDir = join(dir, 'killed');
    mkdirSync(runDir);
    const out = join(runDir, 'nightly.json');
    // What SIGKILL leaves: a temporary report of a process that is gone, untouched for two hours; and a fresh one.
    const stale = join(runDir, '.nightly.json.99999999.partial');
    const recent = join(runDir, '.nightly.json.99999998.partial');
    writeFileSync(stale, '[\n');
    writeFileSync(recent, '[\n');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(stale, twoHoursAgo, twoHoursAgo);
    const next = await runCli(['score', model, '--traces', log, '-o', out]);
    expect(next.code, next.describe).toBe(0);
    expect(next.stderr).toContain(`removed ${stale}, left by a run that was killed`);
    expect(readdirSync(runDir).sort()).toEqual(['.nightly.json.99999998.partial', 'nightly.json']);
  });

  it('writes an OUT whose name is near the longest a file system takes: the temporary report\'s name is cut to fit, and so recognised when stale', async () => {
    const runDir = join(dir, 'long-name');
    mkdirSync(runDir);
    // 250 bytes each, within NAME_MAX (255) but not with `.….<pid>.partial` around them; é takes two bytes.
    for (const name of [`${'n'.repeat(245)}.json`, `${'é'.repeat(122)}r.json`]) {
      const out = join(runDir, name);
      expect(Buffer.byteLength(name)).toBe(250);
      const first = await runCli(['score', model, '--traces', log, '-o', out]);
      expect(first.code, first.describe).toBe(0);
      expect(JSON.parse(readFileSync(out, 'utf8'))).toHaveLength(30);
      expect(readdirSync(runDir)).toEqual([name]);
      // What a run killed with SIGKILL leaves: its temporary report, under the cut name and untouched for two hours.
      const prefix = name.startsWith('n') ? `.${'n'.repeat(235)}.` : `.${'é'.repeat(117)}.`;
      const stale = join(runDir, `${prefix}99999999.partial`);
      writeFileSync(stale, '[\n');
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      utimesSync(stale, twoHoursAgo, twoHoursAgo);
      const next = await runCli(['score', model, '--traces', log, '-o', out]);
      expect(next.code, next.describe).toBe(0);
      expect(next.stderr).toContain(`removed ${stale}, left by a run that was killed`);
      expect(readdirSync(runDir)).toEqual([name]);
      rmSync(out);
    }
  });

  it('writes its temporary report as a new file: a link planted under its name is removed, not written through', async () => {
    const runDir = join(dir, 'planted');
    mkdirSync(runDir);
    const out = join(runDir, 'nightly.json');
    const victim = join(runDir, 'victim.txt');
    writeFileSync(out, 'previous report\n');
    chmodSync(out, 0o640);
    writeFileSync(victim, 'not the report\n');
    chmodSync(victim, 0o600);
    // The log on standard input: the temporary report is opened after its first trace is read, so the link is in place.
    const cli = spawn(process.execPath, [CLI, 'score', model, '--traces', '-', '--format', 'csv', '-o', out], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    cli.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    symlinkSync(victim, join(runDir, `.nightly.json.${cli.pid}.partial`));
    cli.stdin.end(readFileSync(log));
    const [code] = (await once(cli, 'close')) as [number | null];
    expect(code, stderr).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('not the report\n');
    expect(statSync(victim).mode & 0o777).toBe(0o600);
    expect(lstatSync(out).isFile()).toBe(true);
    expect(statSync(out).mode & 0o777).toBe(0o640);
    expect(readFileSync(out, 'utf8')).toMatch(/^\[/);
    expect(readdirSync(runDir).sort()).toEqual(['nightly.json', 'victim.txt']);
  });

  it('says that a report written in place through a symbolic link is incomplete when the log fails midway', async () => {
    const target = join(dir, 'in-place-target.json');
    const link = join(dir, 'in-place-link.json');
    writeFileSync(target, 'previous report\n');
    symlinkSync(target, link);
    const broken = join(dir, 'broken-midway.xes');
    const trace = '<trace><string key="concept:name" value="A"/><event><string key="concept:name" value="approve loan"/></event></trace>';
    writeFileSync(broken, `<log xmlns="http://www.xes-standard.org/">${trace}${trace}<trace><event>\n</log>`);
    const failed = await runCli(['score', model, '--traces', broken, '-o', link]);
    expect(failed.code, failed.describe).toBe(2);
    expect(failed.stderr).toMatch(new RegExp(`; ${link.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is incomplete\\n$`));
  });

  it('SIGTERM while an unsorted CSV is still being read (before OUT is opened) says OUT is left as it was', async () => {
    const big = join(dir, 'big-unsorted.csv');
    writeFileSync(big, `case_id,activity,risk_score\n${Array.from({ length: 600_000 }, (_, i) => `C${i % 300_000},approve loan,0.${i % 10}\n`).join('')}`);
    const runDir = join(dir, 'reading');
    mkdirSync(runDir);
    const out = join(runDir, 'nightly.json');
    writeFileSync(out, 'previous report\n');
    const cli = new CliProcess(['score', model, '--traces', big, '-o', out]);
    // The log is opened once the signal handlers are in place: wait for its descriptor.
    const fds = `/proc/${cli.child.pid}/fd`;
    const deadline = Date.now() + 10_000;
    const reading = () => readdirSync(fds).some((fd) => { try { return readlinkSync(join(fds, fd)) === big; } catch { return false; } });
    while (!reading()) {
      if (Date.now() > deadline || cli.exitStatus !== undefined) throw new Error(`log never opened\n${cli.describe()}`);
      await sleep(5);
    }
    cli.signal('SIGTERM');
    expect(await cli.waitForExit(), cli.describe()).toEqual({ code: 143, signal: null });
    expect(cli.stderr).toBe(`petrascore score: interrupted by SIGTERM; ${out} is left as it was\n`);
    expect(readFileSync(out, 'utf8')).toBe('previous report\n');
  });
});
