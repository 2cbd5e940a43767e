export interface InputPosition {
  line?: number;
  column?: number;
  byte?: number;
}

/**
 * The log file as a whole cannot be read. The message is meant to be shown to
 * users as is (no stack trace): file, position when known, and the problem.
 */
export class LogInputError extends Error {
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  readonly byte?: number;

  constructor(file: string, problem: string, position: InputPosition = {}) {
    super(`${file}${describePosition(position)}: ${problem}`);
    this.name = 'LogInputError';
    this.file = file;
    if (position.line !== undefined) this.line = position.line;
    if (position.column !== undefined) this.column = position.column;
    if (position.byte !== undefined) this.byte = position.byte;
  }
}

function describePosition({ line, column, byte }: InputPosition): string {
  const parts: string[] = [];
  if (line !== undefined) parts.push(`line ${line}`);
  if (column !== undefined) parts.push(`column ${column}`);
  if (byte !== undefined) parts.push(`byte ${byte}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}
