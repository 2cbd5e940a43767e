export { STDIN } from './byte-source.js';
export { detectFormat } from './detect-format.js';
export { LogInputError } from './errors.js';
export { readLog } from './read-log.js';
export { isLogTraceError } from './types.js';
export type { LogFormat, LogItem, LogTrace, LogTraceError, ReadOptions } from './types.js';
