import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { scoreLog } from '../batch/score-log.js';
import { ReportWriter, type OutputFormat } from '../batch/report-writer.js';
import { loadBundle, type Bundle } from '../bundle/load-bundle.js';
import { BundleError } from '../bundle/errors.js';
import { InferenceBatcher } from '../inference/batcher.js';
import { TraceScorer } from '../inference/trace-scorer.js';
import { LogInputError, readLog } from '../logs/index.js';
import { ProgressLine } from './progress.js';
import { openReportFile, type ReportFile } from './report-file.js';

export const DEFAULT_BATCH_SIZE = 1024;

const USAGE = `Usage: petrascore score BUNDLE.onnx --traces FILE [options]

Scores every trace of an audit log like PETRA's petra-score and writes the same JSON report.

Options:
  --traces FILE              the log: .csv, .xes or .json, each also gzipped (.gz) (required)
  --format FORMAT            auto (from the file name, default), csv, xes or json
  --case-column NAME         CSV column with the case id (default case_id)
  --activity-column NAME     CSV column with the activity (default activity)
  --sorted                   CSV rows are grouped by case: stream case by case (memory: one id
                             per finished case, kept to detect a file that is not sorted)
  -o, --output OUT           write the report to OUT instead of standard output
  --output-format FORMAT     json (petra-score's document, default) or ndjson (one trace per line)
  --batch-size N             traces per ONNX run (default ${DEFAULT_BATCH_SIZE})
  --help                     show this help

Exit codes: 0 scored (also when some traces carry error entries), 2 usage error, unreadable or
unparseable log, bad bundle, or an output that cannot be written (a report already at OUT is
then left as it was), 1 unexpected failure.`;

class ScoreUsageError extends Error {}

interface ScoreArgs {
  bundle: string;
  traces: string;
  format: 'auto' | 'csv' | 'xes' | 'json';
  caseColumn: string;
  activityColumn: string;
  sorted: boolean;
  output: string | undefined;
  outputFormat: OutputFormat;
  batchSize: number;
}

function parseScoreArgs(argv: readonly string[]): ScoreArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        traces: { type: 'string' },
        format: { type: 'string', default: 'auto' },
        'case-column': { type: 'string', default: 'case_id' },
        'activity-column': { type: 'string', default: 'activity' },
        sorted: { type: 'boolean', default: false },
        output: { type: 'string', short: 'o' },
        'output-format': { type: 'string', default: 'json' },
        'batch-size': { type: 'string', default: String(DEFAULT_BATCH_SIZE) },
      },
    });
  } catch (error) {
    throw new ScoreUsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new ScoreUsageError(positionals.length === 0 ? 'missing BUNDLE.onnx' : `expected one bundle, got: ${positionals.join(' ')}`);
  if (values.traces === undefined) throw new ScoreUsageError('missing --traces FILE');
  if (!['auto', 'csv', 'xes', 'json'].includes(values.format)) throw new ScoreUsageError(`--format must be auto, csv, xes or json, got '${values.format}'`);
  if (!['json', 'ndjson'].includes(values['output-format'])) throw new ScoreUsageError(`--output-format must be json or ndjson, got '${values['output-format']}'`);
  if (!/^[1-9]\d*$/.test(values['batch-size'])) throw new ScoreUsageError(`--batch-size must be a positive whole number, got '${values['batch-size']}'`);
  return {
    bundle: positionals[0]!,
    traces: values.traces,
    format: values.format as ScoreArgs['format'],
    caseColumn: values['case-column'],
    activityColumn: values['activity-column'],
    sorted: values.sorted,
    output: values.output,
    outputFormat: values['output-format'] as OutputFormat,
    batchSize: Number(values['batch-size']),
  };
}

function fail(message: string, code: number): number {
  process.stderr.write(`petrascore score: ${message}\n`);
  return code;
}

/** `petrascore score`: resolves to the exit code. */
export async function score(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let args: ScoreArgs;
  try {
    args = parseScoreArgs(argv);
  } catch (error) {
    if (error instanceof ScoreUsageError) return fail(`${error.message}\n\n${USAGE}`, 2);
    throw error;
  }
  let bundle: Bundle;
  try {
    bundle = await loadBundle(args.bundle);
  } catch (error) {
    if (error instanceof BundleError) return fail(`bad bundle: ${error.message}`, 2);
    throw error;
  }
  const { net, runner } = bundle;
  const scorer = new TraceScorer(net, new InferenceBatcher(runner, net.inputs.length, net.outputs.length, { maxBatch: args.batchSize }));
  const size = await stat(args.traces).then((s) => s.size, () => undefined);
  const progress = new ProgressLine(process.stderr, size);
  const items = readLog(args.traces, {
    format: args.format,
    caseColumn: args.caseColumn,
    activityColumn: args.activityColumn,
    sorted: args.sorted,
    onProgress: (bytes) => progress.read(bytes),
    onTotal: (traces) => progress.expect(traces),
  });
  let report: ReportFile | undefined;
  try {
    report = args.output === undefined ? undefined : await openReportFile(args.output);
  } catch (error) {
    await runner.close();
    return fail(`cannot write ${args.output}: ${(error as Error).message}`, 2);
  }
  const out = report?.stream ?? process.stdout;
  // A failed write (a full disk; a reader that stopped early, as `| head` does) stops the scoring at the next entry.
  let writeError: NodeJS.ErrnoException | undefined;
  out.on('error', (error: NodeJS.ErrnoException) => {
    writeError ??= error;
  });
  const writer = new ReportWriter(out, args.outputFormat);
  const started = performance.now();
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
    return 0;
  } catch (error) {
    progress.done();
    await report?.abort();
    if (error instanceof LogInputError) return fail(error.message, 2);
    // The reader has all it wanted: quiet, like the other tools of a pipeline.
    if (args.output === undefined && (error as NodeJS.ErrnoException).code === 'EPIPE') return 0;
    if ((error as NodeJS.ErrnoException).syscall !== undefined) return fail(`cannot write ${args.output ?? 'stdout'}: ${(error as Error).message}`, 2);
    throw error;
  } finally {
    await runner.close();
  }
}
