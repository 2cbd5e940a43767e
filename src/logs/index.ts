export { STDIN } from './byte-source.js';
export { detectFormat } from './detect-format.js';
export { LogInputError } from './errors.js';
export { readLog } from './read-log.js';
export { CSV_DELIMITERS, isLogTraceError } from './types.js';
export type { CsvDelimiter, LogFormat, LogItem, LogTrace, LogTraceError, ReadOptions } from './types.js';
