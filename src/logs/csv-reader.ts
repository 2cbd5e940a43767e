import { emptyAttributes } from './attributes.js';
import { CsvRowParser, type RowBatch } from './csv-row-parser.js';
import { LogInputError } from './errors.js';
import { CSV_DELIMITERS, type CsvDelimiter, type UnindexedItem } from './types.js';
import { decodeUtf8 } from './utf8.js';
import { LOG_QUOTE, shortened, visibleJson, visibleJsonList } from '../scoring/quote-value.js';

// Bounds memory when a quote is left open; Python's csv module refuses fields over 128 KiB. A row is refused once
// more than this much of it is buffered; one a little longer can pass when its end arrives in the same piece of input.
const MAX_RECORD_CHARS = 16 * 1024 * 1024;

export interface CsvColumns {
  caseColumn: string;
  activityColumn: string;
  /** The field delimiter (petra-score: always a comma). */
  delimiter: CsvDelimiter;
  sorted: boolean;
  /** Unsorted only: told the number of cases once the file is read, before the first is yielded. */
  onTotal?: ((traces: number) => void) | undefined;
  /** Told, once the file is read, of rows that are read as PETRA reads them but are most likely not events. */
  onWarning?: ((message: string) => void) | undefined;
}

/** Rows of one suspicious kind: how many, and where the first was. */
interface Suspicious {
  count: number;
  firstLine: number;
  caseId: string | undefined;
  /** Whether a later one had another case id (`""` and `"   "`). */
  otherCases: boolean;
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
 * - blank lines before the header are skipped (DictReader would take the blank
 *   line as an empty header and reject the file).
 *
 * As in Python's csv, rows end at \r\n, \n or \r, also mixed in one file;
 * text after the closing quote of a field goes on unquoted (`"app"roved` is
 * `approved`, `"0.4" ` is `0.4 `, as an export that pads quoted fields gives);
 * a quote inside an unquoted field (`12" pipe`) is literal.
 * Line numbers in messages count each of them as one line, inside quoted cells
 * too. Parsing is csv-row-parser.ts: papaparse, and an exact parser for the
 * inputs papaparse would read differently.
 */
export async function* readCsv(bytes: AsyncIterable<Buffer>, file: string, columns: CsvColumns): AsyncGenerator<UnindexedItem> {
  const parser = new CsvRowParser(file, MAX_RECORD_CHARS, columns.delimiter);
  const grouper = new CaseGrouper(file, columns);
  for await (const text of decodeUtf8(bytes)) yield* grouper.addAll(parser.push(text));
  yield* grouper.addAll(parser.end());
  yield* grouper.finish();
}

class CaseGrouper {
  private header: string[] | undefined;
  // DictReader maps a repeated header name to its last column.
  private caseIndex = -1;
  private activityIndex = -1;
  private readonly open = new Map<string | undefined, OpenCase>();
  private readonly emitted = new Set<string | undefined>();
  private blankRows: Suspicious | undefined;
  private headerRows: Suspicious | undefined;
  /** The file's last row after the header, kept to tell an export cut off mid-row. */
  private lastRow: { cells: number; batch: RowBatch; index: number } | undefined;

  constructor(
    private readonly file: string,
    private readonly columns: CsvColumns,
  ) {}

  /** The rows of a batch; in sorted mode yields each case as the next one starts. */
  *addAll(batch: RowBatch): Generator<UnindexedItem> {
    let index = -1;
    let last = -1;
    for (const cells of batch.rows) {
      index += 1;
      if (batch.blankLines && cells.length === 1 && cells[0] === '') continue;
      // Before add(): the header is no row of events.
      if (this.header) last = index;
      const finished = this.add(cells, batch, index);
      if (finished) yield finished;
    }
    if (last !== -1) this.lastRow = { cells: batch.rows[last]!.length, batch, index: last };
    if (batch.error) throw batch.error;
  }

  /** The case that `cells` closes, in sorted mode. Lines are looked up only for errors, so rows carry none. */
  private add(cells: string[], batch: RowBatch, index: number): UnindexedItem | undefined {
    if (!this.header) {
      this.readHeader(cells, batch, index);
      return undefined;
    }
    // undefined when the row is too short to have the cell (DictReader's restval None).
    const caseId = cells[this.caseIndex];
    // Checked only when the case cell is blank or the case column's name (after a byte-order mark when it is the first
    // column), so ordinary rows cost a comparison or two.
    if (caseId === undefined || caseId === this.header[this.caseIndex] || caseId.trim() === '' || caseId.charCodeAt(0) === BYTE_ORDER_MARK) {
      this.noteSuspicious(cells, caseId, batch, index);
    }
    let openCase = this.open.get(caseId);
    let finished: UnindexedItem | undefined;
    if (!openCase) {
      if (this.columns.sorted) {
        if (this.emitted.has(caseId)) throw this.notSorted(caseId, batch.lineOf(index));
        // Sorted mode holds one case at a time.
        finished = this.takeOpen()[0];
      }
      openCase = { attributes: this.firstRowAttributes(this.header, cells), activities: new Set() };
      this.open.set(caseId === undefined ? undefined : ownCopy(caseId), openCase);
    }
    const activity = cells[this.activityIndex];
    if (activity !== undefined && !openCase.activities.has(activity)) openCase.activities.add(ownCopy(activity));
    return finished;
  }

  *finish(): Generator<UnindexedItem> {
    if (!this.columns.sorted) this.columns.onTotal?.(this.open.size);
    this.warnSuspicious();
    yield* this.takeOpen();
  }

  /**
   * A row of blank cells (a whitespace-only line, Excel's `,,,,`) or a second copy of the header (two exports joined)
   * is an event to petra-score, of case "" or "case_id", and such a phantom case is often the night's top anomaly.
   * They are read as PETRA reads them, and said.
   */
  private noteSuspicious(cells: string[], caseId: string | undefined, batch: RowBatch, index: number): void {
    const header = this.header!;
    const blank = cells.every((cell) => cell.trim() === '');
    // Exports that each begin with a byte-order mark (Excel's "CSV UTF-8") keep it on the first cell of every header
    // after the first when joined: only the file's own is stripped.
    // A quote right after the mark does not open a quoted cell (it is not the cell's first character), so a quoted
    // header's first cell keeps its quotes there: "case_id" with them.
    const repeatsHeader = (cell: string, i: number) => cell === header[i] || (i === 0 && cell.charCodeAt(0) === BYTE_ORDER_MARK && unquoted(cell.slice(1)) === header[0]);
    if (!blank && !(cells.length === header.length && cells.every(repeatsHeader))) return;
    const seen = blank ? this.blankRows : this.headerRows;
    if (seen !== undefined) {
      seen.count += 1;
      seen.otherCases ||= caseId !== seen.caseId;
      return;
    }
    const first: Suspicious = { count: 1, firstLine: batch.lineOf(index), caseId, otherCases: false };
    if (blank) this.blankRows = first;
    else this.headerRows = first;
  }

  private warnSuspicious(): void {
    const warn = this.columns.onWarning;
    if (warn === undefined) return;
    const rows = (n: number) => (n === 1 ? '1 row' : `${n} rows`);
    // The mark spelt out, as the report's JSON spells it: printed as is, it is invisible.
    const caseName = ({ caseId, otherCases }: Suspicious) => (caseId === undefined ? 'of no case cell' : `of case ${visibleJson(shortened(caseId, LOG_QUOTE.chars))}`) + (otherCases ? ' and others' : '');
    const { blankRows, headerRows } = this;
    if (blankRows !== undefined) {
      warn(`${this.file}: ${rows(blankRows.count)} with every cell empty or blank (first at line ${blankRows.firstLine}) read as events ${caseName(blankRows)}, as petra-score reads them; remove them from the export if they are not events`);
    }
    if (headerRows !== undefined) {
      warn(`${this.file}: ${rows(headerRows.count)} repeating the header (first at line ${headerRows.firstLine}; two exports joined?) read as events ${caseName(headerRows)}, as petra-score reads them`);
    }
    // A short row elsewhere is an event without those attributes (PETRA's missing attribute); the last one is what an
    // export cut off mid-row leaves, which the report cannot show. Not short: a row without the empty cells a header
    // written with trailing delimiters ends in.
    const { lastRow, header } = this;
    if (lastRow !== undefined && header !== undefined && lastRow.cells < namedWidth(header)) {
      warn(`${this.file}: the last row (line ${lastRow.batch.lineOf(lastRow.index)}) has ${lastRow.cells} of the header's ${header.length} cells, and is read as petra-score reads it (the missing cells absent); was the export cut off?`);
    }
  }

  private takeOpen(): UnindexedItem[] {
    const items: UnindexedItem[] = [];
    for (const [caseId, openCase] of this.open) {
      // Sorted mode keeps only the ids of finished cases, to recognise one that reappears.
      if (this.columns.sorted) this.emitted.add(caseId);
      items.push({ attributes: openCase.attributes, events: [...openCase.activities] });
    }
    this.open.clear();
    return items;
  }

  private notSorted(caseId: string | undefined, line: number): LogInputError {
    const name = caseId === undefined ? '(no case cell)' : visibleJson(shortened(caseId, LOG_QUOTE.chars));
    return new LogInputError(
      this.file,
      `not sorted by case: case ${name} reappears at line ${line} after its rows ended; sort the file by case or read it unsorted`,
      { line },
    );
  }

  private readHeader(header: string[], batch: RowBatch, index: number): void {
    const { caseColumn, activityColumn } = this.columns;
    for (const [role, name] of [['case', caseColumn], ['activity', activityColumn]] as const) {
      if (!header.includes(name)) {
        throw new LogInputError(
          this.file,
          `the CSV header has no ${visibleJson(name)} column (the ${role} column); header columns: ${visibleJsonList(header)}${excelSepHint(header) ?? delimiterHint(header, this.columns.delimiter, name)}`,
          { line: batch.lineOf(index) },
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
    if (caseId !== undefined) attributes[caseColumn] = ownCopy(caseId);
    for (let i = 0; i < header.length; i++) {
      const name = header[i] as string;
      if (name === caseColumn || name === activityColumn) continue;
      const value = cells[i];
      if (value === undefined) delete attributes[name];
      else attributes[name] = ownCopy(value);
    }
    return attributes;
  }
}

const BYTE_ORDER_MARK = 0xfeff;

const DELIMITER_NAMES: Record<CsvDelimiter, [name: string, option: string]> = {
  ',': ['comma', "','"],
  ';': ['semicolon', "';'"],
  '\t': ['tab', 'tab'],
  '|': ['pipe', "'|'"],
};

/** The header's cells up to its last named one. */
function namedWidth(header: readonly string[]): number {
  let width = header.length;
  while (width > 0 && header[width - 1] === '') width--;
  return width;
}

/** A cell as it would read had its quotes opened it: `"a ""b"""` reads `a "b"`. */
function unquoted(cell: string): string {
  return cell.length >= 2 && cell.startsWith('"') && cell.endsWith('"') ? cell.slice(1, -1).replaceAll('""', '"') : cell;
}

/** Excel's `sep=;` first line, which names the delimiter for Excel and is no header: PETRA's reader fails on it too. */
function excelSepHint(header: readonly string[]): string | undefined {
  return /^sep=/i.test(header[0] ?? '') ? "; the first line is Excel's `sep=` line: remove it, so that the header comes first" : undefined;
}

/**
 * The delimiter to suggest when the header lacks the column `missing`: an export in another dialect (European-locale
 * Excel writes semicolons) otherwise fails with the whole header line as its only column, or cut at commas inside
 * names (`case_id;activity;cost, EUR`). Suggested: another delimiter the reader takes that a one-column header holds,
 * or that cuts the header line into cells including `missing`; the one occurring most often.
 */
function delimiterHint(header: readonly string[], delimiter: CsvDelimiter, missing: string): string {
  // The header line, but for quotes, which matter little in names.
  const line = header.join(delimiter);
  let likely: CsvDelimiter | undefined;
  let most = 0;
  for (const candidate of CSV_DELIMITERS) {
    if (candidate === delimiter) continue;
    const cells = line.split(candidate);
    if (header.length > 1 && !cells.includes(missing)) continue;
    if (cells.length - 1 > most) [likely, most] = [candidate, cells.length - 1];
  }
  if (likely === undefined) return '';
  const [name, option] = DELIMITER_NAMES[likely];
  return `; the header looks ${name}-separated: give --csv-delimiter ${option}`;
}

/**
 * A copy of a cell that does not keep its input alive. papaparse's cells are
 * V8 slices of the piece of input they came from, so keeping one per case
 * would keep the whole file in memory. V8 copies substrings shorter than 13
 * characters anyway; a longer cell is concatenated, which the slice then
 * flattens into a string of its own.
 */
function ownCopy(cell: string): string {
  return cell.length < 13 ? cell : (' ' + cell).slice(1);
}
