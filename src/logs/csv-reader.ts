import { Readable, pipeline } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { emptyAttributes } from './attributes.js';
import { LogInputError } from './errors.js';
import type { UnindexedItem } from './types.js';

const MAX_RECORD_CHARS = 16 * 1024 * 1024;

export interface CsvColumns {
  caseColumn: string;
  activityColumn: string;
  sorted: boolean;
}

/** What scoring needs from a case; later rows only contribute activity names. */
interface OpenCase {
  attributes: Record<string, string>;
  activities: Set<string>;
}

/**
 * petra-score's `_csv_to_traces` (csv.DictReader): one row per event, rows
 * grouped by case id in first-seen order even when not contiguous; trace
 * attributes = the case column plus every other column of the case's first
 * row except the activity column.
 *
 * Differences from PETRA, on inputs where PETRA misbehaves:
 * - a UTF-8 byte-order mark is stripped. PETRA keeps it, so its first header
 *   cell becomes "\ufeffcase_id" and it rejects the file for lacking the case
 *   column;
 * - cells beyond the header's width are ignored. DictReader files them under
 *   the key None, which crashes PETRA's JSON output when it happens on a
 *   case's first row;
 * - a row too short to have a case cell is grouped with the other such rows
 *   into one trace without the case attribute (PETRA: case id None, printed as
 *   null); a row too short to have an activity cell adds no activity (PETRA: an
 *   event named None, which matches no transition);
 * - malformed quoting (a character after a closing quote, a quote never
 *   closed) is an error with its line; Python's csv module silently repairs it;
 * - blank lines before the header are skipped (DictReader would take the blank
 *   line as an empty header and reject the file).
 */
export async function* readCsv(bytes: AsyncIterable<Buffer>, file: string, columns: CsvColumns): AsyncGenerator<UnindexedItem> {
  const parser = parse({
    bom: true,
    info: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    // Python's csv module ends a row at \r\n, \n or \r, also when they are mixed in one file.
    record_delimiter: ['\r\n', '\n', '\r'],
    // Bounds memory when a quote is left open; Python's csv module refuses fields over 128 KiB.
    max_record_size: MAX_RECORD_CHARS,
  });
  // Errors reach the loop below through the parser; the callback only keeps them from being unhandled.
  pipeline(Readable.from(bytes), parser, () => undefined);

  const grouper = new CaseGrouper(file, columns);
  let previousEndLine = 0;
  let previousEmptyLines = 0;
  try {
    for await (const row of parser as AsyncIterable<{ record: string[]; info: { lines: number; empty_lines: number } }>) {
      // info.lines is where the record ends; count back over the blank lines skipped before it.
      const line = previousEndLine + 1 + (row.info.empty_lines - previousEmptyLines);
      previousEndLine = row.info.lines;
      previousEmptyLines = row.info.empty_lines;
      yield* grouper.add(row.record, line);
    }
  } catch (error) {
    throw error instanceof CsvError ? csvSyntaxError(file, error) : error;
  }
  yield* grouper.finish();
}

class CaseGrouper {
  private header: string[] | undefined;
  private readonly open = new Map<string | undefined, OpenCase>();
  private readonly emitted = new Set<string | undefined>();

  constructor(
    private readonly file: string,
    private readonly columns: CsvColumns,
  ) {}

  *add(record: string[], line: number): Generator<UnindexedItem> {
    if (!this.header) {
      this.header = record;
      this.checkHeader(record, line);
      return;
    }
    const row = dictRow(this.header, record);
    const { caseColumn, activityColumn, sorted } = this.columns;
    const caseId = row.get(caseColumn);
    let openCase = this.open.get(caseId);
    if (!openCase) {
      if (sorted) {
        if (this.emitted.has(caseId)) {
          throw new LogInputError(
            this.file,
            `not sorted by case: case ${caseId === undefined ? '(no case cell)' : JSON.stringify(caseId)} reappears at line ${line} after its rows ended; sort the file by case or read it unsorted`,
            { line },
          );
        }
        yield* this.emitOpen();
      }
      openCase = { attributes: firstRowAttributes(row, caseColumn, activityColumn), activities: new Set() };
      this.open.set(caseId, openCase);
    }
    const activity = row.get(activityColumn);
    if (activity !== undefined) openCase.activities.add(activity);
  }

  *finish(): Generator<UnindexedItem> {
    yield* this.emitOpen();
  }

  private *emitOpen(): Generator<UnindexedItem> {
    for (const [caseId, openCase] of this.open) {
      // Sorted mode remembers only ids, so memory stays at one id per case rather than one row set per case.
      if (this.columns.sorted) this.emitted.add(caseId);
      yield { attributes: openCase.attributes, events: [...openCase.activities] };
    }
    this.open.clear();
  }

  private checkHeader(header: string[], line: number): void {
    const { caseColumn, activityColumn } = this.columns;
    for (const [role, name] of [['case', caseColumn], ['activity', activityColumn]] as const) {
      if (!header.includes(name)) {
        throw new LogInputError(
          this.file,
          `the CSV header has no ${JSON.stringify(name)} column (the ${role} column); header columns: ${JSON.stringify(header)}`,
          { line },
        );
      }
    }
  }
}

/**
 * csv.DictReader's row: header name -> cell, where a cell the row is too short
 * to have is absent (DictReader's restval None, which PETRA then drops). With
 * duplicate header names the later column wins, also when its cell is absent.
 */
function dictRow(header: string[], record: string[]): Map<string, string | undefined> {
  const row = new Map<string, string | undefined>();
  header.forEach((name, i) => row.set(name, record[i]));
  return row;
}

function firstRowAttributes(row: Map<string, string | undefined>, caseColumn: string, activityColumn: string): Record<string, string> {
  const attributes = emptyAttributes();
  const caseId = row.get(caseColumn);
  if (caseId !== undefined) attributes[caseColumn] = caseId;
  for (const [name, value] of row) {
    if (name !== caseColumn && name !== activityColumn && value !== undefined) attributes[name] = value;
  }
  return attributes;
}

function csvSyntaxError(file: string, error: CsvError): LogInputError {
  const line = 'lines' in error && typeof error.lines === 'number' ? error.lines : undefined;
  const position = line === undefined ? {} : { line };
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return new LogInputError(file, 'a quoted field is never closed (end of file reached); expected a closing "', position);
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return new LogInputError(file, 'unexpected character after the closing quote of a field; expected "," or the end of the line', position);
    case 'CSV_MAX_RECORD_SIZE':
      return new LogInputError(file, `a row is longer than ${MAX_RECORD_CHARS} characters; is a quote left open?`, position);
    default:
      return new LogInputError(file, `CSV syntax error: ${error.message}`, position);
  }
}
