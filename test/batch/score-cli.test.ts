import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { modelPath, readFixture, STREAM_BUNDLES, FIXTURES } from '../helpers/fixtures.js';
import { CliProcess, permissionsCanApply, runCli } from '../helpers/cli.js';
import { expectScoreClose } from '../helpers/tolerance.js';

interface Entry {
  trace_index: number;
  attributes: Record<string, string>;
  trace_score?: number;
  per_transition_residuals?: Record<string, number>;
  error?: string;
}

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

describe('petrascore score output and exit codes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'petrascore-score-'));
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

  it('an -o OUT in a missing directory: exit 2 and one line naming OUT', async () => {
    const out = join(dir, 'no-such-dir', 'report.json');
    const result = await runCli(['score', model, '--traces', log, '-o', out]);
    expect(result.code, result.describe).toBe(2);
    expect(result.stderr).toBe(`petrascore score: cannot write ${out}: directory ${join(dir, 'no-such-dir')} does not exist\n`);
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
      const refused = await runCli(['score', model, '--traces', log, '-o', fresh], { permissionsApply: true });
      expect(refused.code, refused.describe).toBe(2);
      expect(refused.stderr).toBe(`petrascore score: cannot write ${fresh}: permission denied: directory ${readOnly} takes no new file\n`);
      expect(readdirSync(readOnly)).toEqual(['nightly.json']);
    } finally {
      chmodSync(readOnly, 0o755);
    }
  });

  it.skipIf(!permissionsCanApply)('leaves no onnxruntime telemetry behind and prints only its summary, also where HOME is not writable', async () => {
    for (const writable of [true, false]) {
      const home = join(dir, `home-${writable}`);
      const cwd = join(dir, `cwd-${writable}`);
      mkdirSync(home, { mode: writable ? 0o755 : 0o555 });
      mkdirSync(cwd);
      const result = await runCli(['score', model, '--traces', log, '-o', '/dev/null'], { env: { HOME: home }, cwd, permissionsApply: true });
      expect(result.code, result.describe).toBe(0);
      expect(result.stderr).toMatch(/^scored 30 traces \(1 error\) in [\d.]+ s → \/dev\/null\n$/);
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
    const csv = await runCli(['score', model, '--traces', log, '--sorted', '-o', '/dev/null']);
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

  it('SIGTERM or SIGINT mid-run: exit 143 or 130, the report at -o as it was, no temporary file left', async () => {
    // Long enough to be interrupted while it writes: 200,000 one-event cases, read case by case (--sorted).
    const long = join(dir, 'long.csv');
    writeFileSync(long, `case_id,activity,risk_score\n${Array.from({ length: 200_000 }, (_, i) => `C${i},approve loan,0.${i % 10}\n`).join('')}`);
    const runDir = join(dir, 'interrupted');
    mkdirSync(runDir);
    const out = join(runDir, 'nightly.json');
    for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
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
});
