export type LogFormat = 'csv' | 'xes' | 'json';

/**
 * The CSV field delimiters the reader takes. Others are refused rather than passed on: csv-row-parser.ts picks between
 * papaparse and its exact parser by what papaparse would read differently, worked out for these (a space, for one,
 * would meet papaparse's trimming of white space after a closing quote).
 */
export const CSV_DELIMITERS: readonly CsvDelimiter[] = [',', ';', '\t', '|'];
export type CsvDelimiter = ',' | ';' | '\t' | '|';

/**
 * One trace as petra-score sees it. `events` holds activity names; readers may
 * collapse repeats (the CSV reader keeps each distinct name once) because
 * scoring only asks whether a name occurs at all.
 */
export interface LogTrace {
  index: number;
  attributes: Record<string, string>;
  events: string[];
}

/** A trace that cannot be scored (PETRA would abort the whole run); the other traces still can. */
export interface LogTraceError {
  index: number;
  attributes: Record<string, string>;
  error: string;
}

export type LogItem = LogTrace | LogTraceError;

export interface ReadOptions {
  format?: LogFormat | 'auto';
  /** CSV only; petra-score's `--case-column`, default `case_id`. */
  caseColumn?: string;
  /** CSV only; petra-score's `--activity-column`, default `activity`. */
  activityColumn?: string;
  /** CSV only: the field delimiter, default `,` (petra-score reads commas only). Quoting stays Python's csv: `"`. */
  csvDelimiter?: CsvDelimiter;
  /**
   * CSV only: promise that all rows of a case are contiguous, so a case can be
   * emitted as soon as the next case starts instead of holding every case
   * until end of file.
   */
  sorted?: boolean;
  /**
   * Told how many bytes of the file have been read so far (for a progress percentage); for JSON, read whole before its
   * first trace, the share of the text parsed so far, in the file's bytes.
   */
  onProgress?: (bytesRead: number) => void;
  /**
   * Told how many traces the log holds, before the first is handed out, by a reader that knows it by then: unsorted CSV,
   * which holds every case until the end of the file. The other readers hand traces out as they read, and never call it.
   */
  onTotal?: (traces: number) => void;
  /** Told of input that is read as petra-score reads it but is most likely a mistake in the export (CSV only). */
  onWarning?: (message: string) => void;
  /** A log without traces is an empty report rather than petra-score's "no traces parsed" error. */
  allowEmpty?: boolean;
}

/** What a format reader yields; `readLog` numbers the items. */
export type UnindexedItem = Omit<LogTrace, 'index'> | Omit<LogTraceError, 'index'>;

export function isLogTraceError(item: LogItem): item is LogTraceError {
  return 'error' in item;
}
