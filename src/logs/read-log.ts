import { readBytes, STDIN } from './byte-source.js';
import { readCsv } from './csv-reader.js';
import { detectFormat } from './detect-format.js';
import { LogInputError } from './errors.js';
import { readJson } from './json-reader.js';
import { CSV_DELIMITERS, type CsvDelimiter, type LogFormat, type LogItem, type ReadOptions, type UnindexedItem } from './types.js';
import { validateUtf8 } from './utf8.js';
import { readXes } from './xes-reader.js';

const FORMATS: ReadonlySet<string> = new Set<LogFormat>(['csv', 'xes', 'json']);

/**
 * The traces of a log file in input order, numbered from 0 like petra-score's
 * `trace_index`. Problems with the file as a whole (unreadable, malformed,
 * no traces) reject the iteration with a LogInputError, possibly after
 * earlier traces were yielded; a trace PETRA could not load is yielded as a
 * LogTraceError and the rest of the file is still read.
 */
export async function* readLog(path: string, options: ReadOptions = {}): AsyncGenerator<LogItem> {
  const format = resolveFormat(path, options.format);
  // What messages call the log: `-` is standard input.
  const file = path === STDIN ? 'standard input' : path;
  // A JSON log is read whole before its first trace, in a moment beside the scoring: its progress is the share of the
  // text parsed, in the file's bytes, which would otherwise stand at 100% for the whole run.
  let bytesRead = 0;
  const onRead = format === 'json' && options.onProgress !== undefined ? (bytes: number) => void (bytesRead = bytes) : options.onProgress;
  const bytes = validateUtf8(readBytes(path, onRead), file);
  let items: AsyncIterable<UnindexedItem>;
  switch (format) {
    case 'csv':
      items = readCsv(bytes, file, {
        caseColumn: options.caseColumn ?? 'case_id',
        activityColumn: options.activityColumn ?? 'activity',
        delimiter: resolveDelimiter(file, options.csvDelimiter),
        sorted: options.sorted ?? false,
        onTotal: options.onTotal,
        onWarning: options.onWarning,
      });
      break;
    case 'xes':
      items = readXes(bytes, file);
      break;
    case 'json':
      items = readJson(bytes, file, options.onProgress === undefined ? undefined : (share) => options.onProgress?.(Math.round(share * bytesRead)));
      break;
  }
  let index = 0;
  for await (const item of items) {
    // Numbered in place: a copy per trace is measurable on logs of millions.
    const numbered = item as LogItem;
    numbered.index = index;
    yield numbered;
    index += 1;
  }
  if (index === 0 && options.allowEmpty !== true) throw new LogInputError(file, 'no traces parsed from the input file');
}

function resolveFormat(path: string, format: ReadOptions['format']): LogFormat {
  if (path === STDIN && (format === undefined || format === 'auto')) throw new LogInputError('standard input', 'give the log format (csv, xes or json) to read standard input');
  if (format === undefined || format === 'auto') return detectFormat(path);
  // Options may come straight from a command line, beyond what the type admits.
  if (!FORMATS.has(format)) throw new LogInputError(path, `unknown log format ${JSON.stringify(format)}; expected auto, csv, xes or json`);
  return format;
}

function resolveDelimiter(path: string, delimiter: ReadOptions['csvDelimiter']): CsvDelimiter {
  if (delimiter === undefined) return ',';
  // As the format: options may come from a command line, and papaparse would silently take a comma for one it refuses.
  if (!CSV_DELIMITERS.includes(delimiter)) throw new LogInputError(path, `unknown CSV delimiter ${JSON.stringify(delimiter)}; expected ',', ';', '|' or a tab`);
  return delimiter;
}
