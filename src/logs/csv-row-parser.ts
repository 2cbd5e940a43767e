import type { TransformCallback } from 'node:stream';
import { Parser } from 'csv-parse';

export interface CsvRow {
  cells: string[];
  /** Line on which the row starts (1-based). */
  line: number;
}

/**
 * csv-parse, configured like Python's csv module in its default dialect, that
 * emits arrays of rows with their line numbers.
 *
 * csv-parse's own `info: true` snapshots a dozen counters per record and
 * emitting records one by one costs an async-iterator round trip each; both
 * together doubled the time of a large CSV. Rows are instead collected as
 * csv-parse pushes them while parsing one input chunk, reading the live line
 * counters, and handed on as one batch per chunk.
 */
export class CsvRowParser extends Parser {
  private batch: CsvRow[] = [];
  private previousEndLine = 0;
  private previousEmptyLines = 0;

  constructor(maxRecordChars: number) {
    super({
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      // Python's csv module ends a row at \r\n, \n or \r, also when they are mixed in one file.
      record_delimiter: ['\r\n', '\n', '\r'],
      max_record_size: maxRecordChars,
    });
  }

  /** Where the row being parsed starts. */
  get nextRowLine(): number {
    // info.lines is where the last record ended (a quoted field may span lines); skip the blank lines since.
    return this.previousEndLine + 1 + (this.info.empty_lines - this.previousEmptyLines);
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) {
      this.flushBatch();
      return super.push(null, encoding);
    }
    const line = this.nextRowLine;
    this.previousEndLine = this.info.lines;
    this.previousEmptyLines = this.info.empty_lines;
    this.batch.push({ cells: chunk as string[], line });
    return true;
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, callback: TransformCallback): void {
    super._transform(chunk, encoding, (error) => {
      this.flushBatch();
      callback(error);
    });
  }

  override _flush(callback: TransformCallback): void {
    super._flush((error) => {
      this.flushBatch();
      callback(error);
    });
  }

  private flushBatch(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    super.push(batch);
  }
}
