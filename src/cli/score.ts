import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseArgsProblem, repeatedOption } from './parse-args-error.js';
import { constants } from 'node:os';
import { scoreLog, UNMATCHED_KEPT, type ScoreLogStats } from '../batch/score-log.js';
import { ReportWriter, type OutputFormat } from '../batch/report-writer.js';
import { loadBundle, type Bundle } from '../bundle/load-bundle.js';
import { BundleError } from '../bundle/errors.js';
import { InferenceBatcher } from '../inference/batcher.js';
import { TraceScorer } from '../inference/trace-scorer.js';
import { detectFormat, LogInputError, readLog, STDIN, type CsvDelimiter, type LogFormat, type LogItem } from '../logs/index.js';
import type { Net } from '../scoring/net.js';
import { LOG_QUOTE, shortened } from '../scoring/quote-value.js';
import { ProgressLine } from './progress.js';
import { checkReportPath, openReportFile, ReportFileError, type ReadFile, type ReportFile } from './report-file.js';
import { EXIT } from './exit-codes.js';
import { quietWhenStdoutCloses } from './standard-streams.js';

export const DEFAULT_BATCH_SIZE = 1024;
/** Beyond 4,096 a larger batch measured no faster (README → Performance), and its buffers grow with the net. */
const MAX_BATCH_SIZE = 65_536;

const USAGE = `Usage: petrascore score BUNDLE.onnx --traces FILE [options]

Scores every trace of an audit log like PETRA's petra-score and writes the same JSON report.

Options:
  --traces FILE              the log: .csv, .xes or .json, each also gzipped (.gz, or recognised
                             by its content), or - for standard input with --format (required)
  --format FORMAT            auto (from the file name, default), csv, xes or json
  --case-column NAME         CSV column with the case id (default case_id)
  --activity-column NAME     CSV column with the activity (default activity)
  --csv-delimiter C          CSV field delimiter: , (default), ;, | or tab (also \\t), for
                             European or tab-separated exports; quotes stay " (an extension:
                             petra-score reads commas only)
  --sorted                   CSV rows are grouped by case: stream case by case (memory: one id
                             per finished case, kept to detect a file that is not sorted)
  -o, --output OUT           write the report to OUT instead of standard output (- for standard
                             output); it replaces OUT only when the run succeeds
  --output-format FORMAT     json (petra-score's document, default) or ndjson (one trace per line)
  --batch-size N             traces per ONNX run, 1 to ${MAX_BATCH_SIZE} (default ${DEFAULT_BATCH_SIZE})
  --max-error-rate R         exit 3 (the report still written) when more than this share of the
                             traces, 0 to 1, carry error entries (default 1: never)
  --allow-empty              a log without traces is an empty report, exit 0 (petra-score: an error)
  --help                     show this help

Which attributes the specs read and which activity names are transition labels: petrascore
inspect BUNDLE.onnx. A CSV case's attributes come from its first row. Warnings on standard error
name rows that are read as petra-score reads them but are likely export mistakes (blank rows, a
repeated header, a last row cut short) and event names that match no label.

Exit codes: 0 scored (also when some traces carry error entries), 3 scored but more traces than
--max-error-rate carry errors, 2 usage error, unreadable or unparseable log, bad bundle, or an
output that cannot be written, 129, 130 or 143 interrupted by SIGHUP, SIGINT or SIGTERM, 1
unexpected failure. A run that does not succeed leaves a report already at OUT as it was, unless
OUT is a symbolic link, device or pipe, or sits in a directory that takes no new file: those are
written in place once the log's first trace has been read.`;

class ScoreUsageError extends Error {}

interface ScoreArgs {
  bundle: string;
  traces: string;
  format: 'auto' | 'csv' | 'xes' | 'json';
  caseColumn: string;
  activityColumn: string;
  csvDelimiter: CsvDelimiter;
  sorted: boolean;
  output: string | undefined;
  outputFormat: OutputFormat;
  batchSize: number;
  maxErrorRate: number;
  allowEmpty: boolean;
}

/** The score command's options (parseArgs's table; their names also suggest the nearest to a mistyped one). */
const SCORE_OPTIONS = {
  traces: { type: 'string' },
  format: { type: 'string', default: 'auto' },
  'case-column': { type: 'string', default: 'case_id' },
  'activity-column': { type: 'string', default: 'activity' },
  'csv-delimiter': { type: 'string', default: ',' },
  sorted: { type: 'boolean', default: false },
  output: { type: 'string', short: 'o' },
  'output-format': { type: 'string', default: 'json' },
  'batch-size': { type: 'string', default: String(DEFAULT_BATCH_SIZE) },
  'max-error-rate': { type: 'string', default: '1' },
  'allow-empty': { type: 'boolean', default: false },
} as const;

function parseScoreArgs(argv: readonly string[]): ScoreArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: SCORE_OPTIONS,
      tokens: true,
    });
  } catch (error) {
    throw new ScoreUsageError(parseArgsProblem(error, Object.keys(SCORE_OPTIONS)));
  }
  const repeated = repeatedOption(parsed.tokens, SCORE_OPTIONS);
  if (repeated !== undefined) throw new ScoreUsageError(repeated);
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new ScoreUsageError(positionals.length === 0 ? 'missing BUNDLE.onnx' : `expected one bundle, got: ${positionals.join(' ')}`);
  if (values.traces === undefined) throw new ScoreUsageError('missing --traces FILE');
  const format = values.format.toLowerCase();
  if (!['auto', 'csv', 'xes', 'json'].includes(format)) throw new ScoreUsageError(`--format must be auto, csv, xes or json, got '${values.format}'`);
  if (values.traces === STDIN && format === 'auto') throw new ScoreUsageError('--traces - (standard input) needs --format csv, xes or json');
  // A decimal written out, as --batch-size's whole number is: Number() would also take '0x1' (1, never fail) and ' 0.5'.
  const maxErrorRate = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(values['max-error-rate']) ? Number(values['max-error-rate']) : Number.NaN;
  if (!(maxErrorRate >= 0 && maxErrorRate <= 1)) throw new ScoreUsageError(`--max-error-rate must be a number from 0 to 1, got '${values['max-error-rate']}'`);
  // Any case, as --format and serve's choices take their words (JSON means json).
  const outputFormat = values['output-format'].toLowerCase();
  if (!['json', 'ndjson'].includes(outputFormat)) throw new ScoreUsageError(`--output-format must be json or ndjson, got '${values['output-format']}'`);
  if (!/^[1-9]\d*$/.test(values['batch-size']) || Number(values['batch-size']) > MAX_BATCH_SIZE) {
    throw new ScoreUsageError(`--batch-size must be a whole number from 1 to ${MAX_BATCH_SIZE}, got '${values['batch-size']}'`);
  }
  const csvDelimiter = parseDelimiter(values['csv-delimiter']);
  const output = values.output === '-' ? undefined : values.output;
  if (output === '') throw new ScoreUsageError('-o needs a file name, got an empty one');
  if (output?.endsWith('/')) throw new ScoreUsageError(`-o needs a file name, got the directory '${output}'`);
  return {
    bundle: positionals[0]!,
    traces: values.traces,
    format: format as ScoreArgs['format'],
    caseColumn: values['case-column'],
    activityColumn: values['activity-column'],
    csvDelimiter,
    sorted: values.sorted,
    output,
    outputFormat: outputFormat as OutputFormat,
    batchSize: Number(values['batch-size']),
    maxErrorRate,
    allowEmpty: values['allow-empty'],
  };
}

/** `tab` and `\t` spell a tab, which is awkward to type in a shell; a tab itself (`$'\t'`) is taken too. */
function parseDelimiter(value: string): CsvDelimiter {
  const delimiter = value.toLowerCase() === 'tab' || value === '\\t' ? '\t' : value;
  if (delimiter === ',' || delimiter === ';' || delimiter === '|' || delimiter === '\t') return delimiter;
  throw new ScoreUsageError(`--csv-delimiter must be ',', ';', '|' or tab, got '${value}'`);
}

function fail(message: string, code: number): number {
  process.stderr.write(`petrascore score: ${message}\n`);
  return code;
}

/** `petrascore score`: resolves to the exit code. */
export async function score(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    quietWhenStdoutCloses();
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  let args: ScoreArgs;
  try {
    args = parseScoreArgs(argv);
  } catch (error) {
    if (error instanceof ScoreUsageError) return fail(`${error.message}\n\n${USAGE}`, EXIT.usage);
    throw error;
  }
  warnCsvOnlyOptions(args);
  let bundle: Bundle;
  try {
    bundle = await loadBundle(args.bundle);
  } catch (error) {
    if (error instanceof BundleError) return fail(`bad bundle: ${error.message}`, EXIT.usage);
    throw error;
  }
  const { net, runner } = bundle;
  // As serve logs them and validate prints them: a sidecar that makes the night's scores doubtful (defaults derived for
  // a non-source place, an output without a label that no event can match) is no less so in a batch run.
  for (const warning of bundle.warnings) process.stderr.write(`petrascore score: warning: ${bundle.sidecarPath}: ${warning}\n`);
  const scorer = new TraceScorer(net, new InferenceBatcher(runner, net.inputs.length, net.outputs.length, { maxBatch: args.batchSize }));
  const size = args.traces === STDIN ? undefined : await stat(args.traces).then((s) => s.size, () => undefined);
  const warnings: string[] = [];
  const progress = new ProgressLine(process.stderr, size);
  const items = readLog(args.traces, {
    format: args.format,
    caseColumn: args.caseColumn,
    activityColumn: args.activityColumn,
    csvDelimiter: args.csvDelimiter,
    sorted: args.sorted,
    onProgress: (bytes) => progress.read(bytes),
    onTotal: (traces) => progress.expect(traces),
    onWarning: (message) => warnings.push(message),
    allowEmpty: args.allowEmpty,
  });
  let report: ReportFile | undefined;
  const stopOnSignal = (signal: NodeJS.Signals) => {
    progress.done();
    // Before the log's first trace OUT is not opened yet: as it was too.
    const left = args.output === undefined ? '' : report === undefined || report.replacesOnCommit ? `; ${args.output} is left as it was` : `; ${args.output} is incomplete`;
    process.stderr.write(`petrascore score: interrupted by ${signal}${left}\n`);
    report?.discardNow();
    // Exit status 128 + the signal's number, as a shell reports a command the signal ended.
    process.exit(128 + constants.signals[signal]);
  };
  // SIGHUP too: a dropped SSH session would otherwise leave the temporary report behind.
  process.once('SIGINT', stopOnSignal).once('SIGTERM', stopOnSignal).once('SIGHUP', stopOnSignal);
  try {
    const reads = [
      { path: bundle.modelPath, what: "the bundle's model" },
      { path: bundle.sidecarPath, what: "the bundle's sidecar" },
      // Linux names what standard input is under /dev/stdin: `-o log.csv < log.csv` would replace the log it reads.
      args.traces === STDIN ? { path: '/dev/stdin', what: 'the log being scored, read from standard input' } : { path: args.traces, what: 'the log being scored (--traces)' },
    ];
    return await scoreTo(args, reads, scorer, items, progress, warnings, (opened) => (report = opened));
  } finally {
    process.off('SIGINT', stopOnSignal).off('SIGTERM', stopOnSignal).off('SIGHUP', stopOnSignal);
    await runner.close();
  }
}

/** The log's format as the reader will take it, or undefined when the name tells none (the reader then says so). */
function formatOf(args: ScoreArgs): LogFormat | undefined {
  if (args.format !== 'auto') return args.format;
  try {
    return detectFormat(args.traces);
  } catch {
    return undefined;
  }
}

/** Options that only a CSV reader reads: said once on stderr when the log is another format, rather than ignored unsaid. */
function warnCsvOnlyOptions(args: ScoreArgs): void {
  const given = [
    args.sorted && '--sorted',
    args.caseColumn !== 'case_id' && '--case-column',
    args.activityColumn !== 'activity' && '--activity-column',
    args.csvDelimiter !== ',' && '--csv-delimiter',
  ].filter((flag): flag is string => flag !== false);
  if (given.length === 0) return;
  const format = formatOf(args);
  // undefined: the reader says what is wrong with the name.
  if (format !== undefined && format !== 'csv') process.stderr.write(`petrascore score: ${new Intl.ListFormat('en').format(given)} ${given.length === 1 ? 'applies' : 'apply'} to CSV logs only; ${args.traces} is read as ${format.toUpperCase()}\n`);
}

/**
 * The log's first item, read before OUT is touched: a missing or unreadable log (and for an unsorted CSV, which is
 * read whole first, any error in it) then leaves OUT as it was, whatever kind of file OUT is. Resolves to every item.
 */
async function startReading<T>(items: AsyncIterable<T>): Promise<AsyncIterable<T>> {
  const iterator = items[Symbol.asyncIterator]();
  const first = await iterator.next();
  return {
    async *[Symbol.asyncIterator]() {
      try {
        if (first.done === true) return;
        yield first.value;
        for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) yield next.value;
      } finally {
        // A consumer that stops early (a reader of stdout gone) closes the log file as the reader's own loop would.
        await iterator.return?.();
      }
    },
  };
}

async function scoreTo(args: ScoreArgs, reads: readonly ReadFile[], scorer: TraceScorer, log: AsyncIterable<LogItem>, progress: ProgressLine, warnings: readonly string[], opened: (report: ReportFile) => void): Promise<number> {
  const started = performance.now();
  let items: AsyncIterable<LogItem>;
  let report: ReportFile | undefined;
  try {
    // OUT's path before the log (a mistyped or unwritable -o fails at once), OUT itself opened after the log's first trace.
    if (args.output !== undefined) await checkReportPath(args.output, reads);
    items = await startReading(log);
    if (args.output !== undefined) opened((report = await openReportFile(args.output)));
    for (const file of report?.staleRemoved ?? []) process.stderr.write(`petrascore score: removed ${file}, left by a run that was killed\n`);
  } catch (error) {
    progress.done();
    if (error instanceof LogInputError) return fail(error.message, EXIT.usage);
    if (error instanceof ReportFileError) return fail(`cannot write ${args.output}: ${error.message}`, EXIT.usage);
    throw error;
  }
  const out = report?.stream ?? process.stdout;
  // A failed write (a full disk; a reader that stopped early, as `| head` does) stops the scoring at the next entry.
  let writeError: NodeJS.ErrnoException | undefined;
  out.on('error', (error: NodeJS.ErrnoException) => {
    writeError ??= error;
  });
  const writer = new ReportWriter(out, args.outputFormat);
  try {
    const stats = await scoreLog(scorer, items, args.batchSize, (entry) => {
      if (writeError !== undefined) throw writeError;
      progress.tick();
      return writer.write(entry);
    });
    await writer.end();
    if (writeError !== undefined) throw writeError;
    await report?.commit();
    progress.done();
    const seconds = (performance.now() - started) / 1000;
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    process.stderr.write(`scored ${plural(stats.traces, 'trace')} (${plural(stats.errors, 'error')}) in ${seconds.toFixed(2)} s → ${args.output ?? 'stdout'}\n`);
    for (const line of [...warnings.map((w) => `warning: ${w}`), ...closingWords(stats, scorer.net, args)]) process.stderr.write(`petrascore score: ${line}\n`);
    if (stats.traces > 0 && stats.errors / stats.traces > args.maxErrorRate) {
      return fail(`${stats.errors} of ${stats.traces} traces (${((100 * stats.errors) / stats.traces).toFixed(1)}%) carry error entries, more than --max-error-rate ${args.maxErrorRate}`, EXIT.tooManyErrors);
    }
    return EXIT.ok;
  } catch (error) {
    progress.done();
    await report?.abort();
    // A report written in place (a symbolic link, a device) has been changed and cannot be put back.
    const left = report !== undefined && !report.replacesOnCommit ? `; ${args.output} is incomplete` : '';
    if (error instanceof LogInputError) return fail(`${error.message}${left}`, EXIT.usage);
    // The reader has all it wanted: quiet, like the other tools of a pipeline.
    // EPIPE comes from a pipe alone: stdout's, or OUT's (`-o /dev/stdout`, a named pipe) whose reader left.
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') return EXIT.ok;
    if ((error as NodeJS.ErrnoException).syscall !== undefined) return fail(`cannot write ${args.output ?? 'stdout'}: ${(error as Error).message}${left}`, EXIT.usage);
    throw error;
  }
}

/** What the run's figures say that an operator would want said: nothing scored, or names that match no label. */
function closingWords(stats: ScoreLogStats, net: Net, args: ScoreArgs): string[] {
  const scored = stats.traces - stats.errors;
  if (stats.traces > 0 && scored === 0) return ['warning: every trace carries an error entry, none was scored (the report\'s "error" fields say why)'];
  const names = [...stats.unmatchedNames];
  if (names.length === 0) return [];
  const some = (list: readonly string[]) => list.slice(0, 5).map((name) => JSON.stringify(shortened(name, LOG_QUOTE.chars))).join(', ') + (list.length > 5 ? ', …' : '');
  const many = names.length >= UNMATCHED_KEPT ? `${UNMATCHED_KEPT} or more` : String(names.length);
  if (stats.matched === 0) {
    const column = formatOf(args) === 'csv' ? ` (is --activity-column '${args.activityColumn}' the activity?)` : '';
    return [
      `warning: no event name in the log is a transition label, so every trace was scored as if none of its events happened${column}. ` +
        `Names in the log: ${some(names)}; the bundle's labels: ${some([...net.labelColumn.keys()])} (petrascore inspect ${args.bundle})`,
    ];
  }
  const them = names.length === 1 ? 'distinct event name matches no transition label and was ignored' : 'distinct event names match no transition label and were ignored';
  return [`note: ${many} ${them}, as petra-score ignores them: ${some(names)}`];
}
