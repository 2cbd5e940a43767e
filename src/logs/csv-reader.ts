import { Readable, pipeline } from 'node:stream';
import { CsvError } from 'csv-parse';
import { emptyAttributes } from './attributes.js';
import { type CsvRow, CsvRowParser } from './csv-row-parser.js';
import { LogInputError } from './errors.js';
import type { UnindexedItem } from './types.js';

// Bounds memory when a quote is left open; Python's csv module refuses fields over 128 KiB.
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
 * - a quote never closed is an error naming the line of its row; Python's
 *   csv module silently takes the rest of the file as one cell;
 * - text after the closing quote of a field (`"app"roved`) is kept verbatim
 *   with its quotes (csv-parse's relax_quotes); Python's csv gives `approved`.
 *   A quote inside an unquoted field (`12" pipe`) is literal in both;
 * - blank lines before the header are skipped (DictReader would take the blank
 *   line as an empty header and reject the file).
 */
export async function* readCsv(bytes: AsyncIterable<Buffer>, file: string, columns: CsvColumns): AsyncGenerator<UnindexedItem> {
  const parser = new CsvRowParser(MAX_RECORD_CHARS);
  // Errors reach the loop below through the parser; the callback only keeps them from being unhandled.
  pipeline(Readable.from(bytes), parser, () => undefined);

  const grouper = new CaseGrouper(file, columns);
  try {
    for await (const rows of parser as AsyncIterable<CsvRow[]>) {
      for (const row of rows) yield* grouper.add(row.cells, row.line);
    }
  } catch (error) {
    throw error instanceof CsvError ? csvSyntaxError(file, error, parser.nextRowLine) : error;
  }
  yield* grouper.finish();
}

class CaseGrouper {
  private header: string[] | undefined;
  // DictReader maps a repeated header name to its last column.
  private caseIndex = -1;
  private activityIndex = -1;
  private readonly open = new Map<string | undefined, OpenCase>();
  private readonly emitted = new Set<string | undefined>();

  constructor(
    private readonly file: string,
    private readonly columns: CsvColumns,
  ) {}

  *add(cells: string[], line: number): Generator<UnindexedItem> {
    if (!this.header) {
      this.readHeader(cells, line);
      return;
    }
    // undefined when the row is too short to have the cell (DictReader's restval None).
    const caseId = cells[this.caseIndex];
    let openCase = this.open.get(caseId);
    if (!openCase) {
      if (this.columns.sorted) {
        if (this.emitted.has(caseId)) {
          const name = caseId === undefined ? '(no case cell)' : JSON.stringify(caseId);
          throw new LogInputError(
            this.file,
            `not sorted by case: case ${name} reappears at line ${line} after its rows ended; sort the file by case or read it unsorted`,
            { line },
          );
        }
        yield* this.emitOpen();
      }
      openCase = { attributes: this.firstRowAttributes(this.header, cells), activities: new Set() };
      this.open.set(caseId, openCase);
    }
    const activity = cells[this.activityIndex];
    if (activity !== undefined) openCase.activities.add(activity);
  }

  *finish(): Generator<UnindexedItem> {
    yield* this.emitOpen();
  }

  private *emitOpen(): Generator<UnindexedItem> {
    for (const [caseId, openCase] of this.open) {
      // Sorted mode keeps only the ids of finished cases, to recognise one that reappears.
      if (this.columns.sorted) this.emitted.add(caseId);
      yield { attributes: openCase.attributes, events: [...openCase.activities] };
    }
    this.open.clear();
  }

  private readHeader(header: string[], line: number): void {
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
    this.header = header;
    this.caseIndex = header.lastIndexOf(caseColumn);
    this.activityIndex = header.lastIndexOf(activityColumn);
  }

  /**
   * `{case column: case id, **row}` minus the activity column, as DictReader
   * builds the row: a later duplicate name overwrites an earlier one, also
   * with "absent" when the row is too short for it, and absent cells are
   * dropped.
   */
  private firstRowAttributes(header: string[], cells: string[]): Record<string, string> {
    const { caseColumn, activityColumn } = this.columns;
    const attributes = emptyAttributes();
    const caseId = cells[this.caseIndex];
    if (caseId !== undefined) attributes[caseColumn] = caseId;
    header.forEach((name, i) => {
      if (name === caseColumn || name === activityColumn) return;
      const value = cells[i];
      if (value === undefined) delete attributes[name];
      else attributes[name] = value;
    });
    return attributes;
  }
}

function csvSyntaxError(file: string, error: CsvError, rowLine: number): LogInputError {
  const line = 'lines' in error && typeof error.lines === 'number' ? error.lines : undefined;
  const position = line === undefined ? {} : { line };
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      // csv-parse reports the last line of the file; the quote was opened in the row that starts here.
      return new LogInputError(file, `a quoted field in the row starting on line ${rowLine} is never closed (end of file reached); expected a closing "`, {
        line: rowLine,
      });
    case 'CSV_MAX_RECORD_SIZE':
      return new LogInputError(file, `a row is longer than ${MAX_RECORD_CHARS} characters; is a quote left open?`, position);
    default:
      return new LogInputError(file, `CSV syntax error: ${error.message}`, position);
  }
}
