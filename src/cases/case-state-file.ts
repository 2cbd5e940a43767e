import { once } from 'node:events';
import { closeSync, createReadStream, fsyncSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { MAX_CASE_ID_LENGTH } from '../schemas/cases.js';
import { visibleText } from '../scoring/quote-value.js';

/**
 * The open cases written at shutdown and read back at startup (`--case-state-file`), so that a restart or a deploy
 * does not cut every running process instance off from its earlier events. JSON lines: a header, then one line per
 * open case, least recently touched first (the order the store keeps them in). Plain JSON so that an operator can
 * read, count or filter it with the usual tools.
 */
export const CASE_STATE_FORMAT = 'petrascore-open-cases';
export const CASE_STATE_VERSION = 1;

const Header = Type.Object({
  format: Type.Literal(CASE_STATE_FORMAT),
  version: Type.Literal(CASE_STATE_VERSION),
  written_at: Type.String(),
  scenario: Type.String(),
  model_sha256: Type.String(),
  open_cases: Type.Integer({ minimum: 0 }),
});
export type CaseStateHeader = Static<typeof Header>;

const SavedCase = Type.Object({
  id: Type.String({ minLength: 1, maxLength: MAX_CASE_ID_LENGTH }),
  n_events: Type.Integer({ minimum: 1 }),
  /** Transition ids (not labels: several transitions may share one) whose labels the case has seen. */
  seen: Type.Array(Type.String()),
  /** As the case keeps them: a structured value is already its str(). */
  attributes: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
  /** When its last event arrived, in milliseconds since the epoch: the downtime counts towards its idle timeout. */
  last_seen: Type.Number(),
});
export type SavedCase = Static<typeof SavedCase>;

const checkHeader = TypeCompiler.Compile(Header);
const checkCase = TypeCompiler.Compile(SavedCase);

/**
 * A state file that cannot be read back, or whose directory cannot take it (`unwritable`: there may be no file at all,
 * and the way out is another place, not moving a file away); the message names the file, the line and the problem.
 */
export class CaseStateFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly unwritable = false,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'CaseStateFileError';
  }
}

/** Where the file is written first: renamed over the file once whole, so that a crash mid-write leaves the last one. */
function partialPath(file: string): string {
  return join(dirname(file), `.${basename(file)}.partial`);
}

/**
 * Where a checkpoint is written first: not the shutdown's partial file, which the shutdown's save creates exclusively
 * while a checkpoint may still be under way (it is called off, and its file removed, once its turn comes again).
 */
function checkpointPath(file: string): string {
  return join(dirname(file), `.${basename(file)}.checkpoint`);
}

/** Digits the header's count is padded to: a checkpoint writes its header first and its count last, in place. */
const COUNT_WIDTH = 16;

/** The header line; the count padded with spaces (whitespace to JSON) to a width that does not depend on it. */
function headerLine(header: Omit<CaseStateHeader, 'format' | 'version'>): string {
  const { open_cases, ...rest } = header;
  const head = JSON.stringify({ format: CASE_STATE_FORMAT, version: CASE_STATE_VERSION, ...rest });
  return `${head.slice(0, -1)},"open_cases":${String(open_cases).padStart(COUNT_WIDTH)}}\n`;
}

/** Lines are gathered into writes of about this many characters: one write per case would be a system call each. */
const WRITE_CHUNK = 1 << 20;

/**
 * Writes the header and the cases, synchronously: nothing may change a case between its line and the next (the
 * shutdown calls this once requests are finished, or at its timeout, with requests still running), and a process
 * about to exit has nothing else to do. Returns the bytes written.
 */
export function writeCaseStateFile(file: string, header: Omit<CaseStateHeader, 'format' | 'version'>, cases: Iterable<SavedCase>): number {
  const partial = partialPath(file);
  let fd: number;
  try {
    // Exclusively: a partial file that exists is another process's save under way (two instances given one file),
    // whose lines would mix with these; this save fails instead, loudly, and that one's file stays whole.
    fd = openSync(partial, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new Error(`${partial} exists: another process is saving to ${file} (two instances given one --case-state-file?)`, { cause: error });
  }
  let bytes = 0;
  try {
    let chunk = headerLine(header);
    for (const saved of cases) {
      chunk += `${JSON.stringify(saved)}\n`;
      if (chunk.length >= WRITE_CHUNK) {
        bytes += writeAll(fd, chunk);
        chunk = '';
      }
    }
    bytes += writeAll(fd, chunk);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(partial);
    throw error;
  }
  closeSync(fd);
  renameSync(partial, file);
  syncDirectory(dirname(file));
  return bytes;
}

/**
 * Writes the whole text, or throws. One write(2) may take less than it is given without an error (a disk that fills up,
 * a file size limit): the error comes with the next one, and a file cut short there would be renamed into place as if
 * whole, and stop the next start.
 */
function writeAll(fd: number, text: string): number {
  const buffer = Buffer.from(text, 'utf8');
  for (let offset = 0; offset < buffer.length; ) offset += writeSync(fd, buffer, offset);
  return buffer.length;
}

export interface CheckpointOptions {
  /** The event loop is held at most about this long at a time, in milliseconds (then the lines so far are written). */
  sliceMs: number;
  /** Asked after each await: true once the shutdown's save has begun, which this checkpoint must neither delay nor overwrite. */
  cancelled: () => boolean;
}

/**
 * Writes the header and the cases `next` hands out, a slice at a time, with the file's writes and sync off the event
 * loop, so that requests go on meanwhile (a million cases take about a second to write); the file is renamed into
 * place once whole, as `writeCaseStateFile` does. `next` is asked again after each slice, and may skip what changed
 * meanwhile; the header's count is written last. Resolves to the bytes written and the cases, or undefined when it was
 * called off (nothing is left of it then).
 */
export async function checkpointCaseStateFile(
  file: string,
  header: Omit<CaseStateHeader, 'format' | 'version' | 'open_cases'>,
  next: () => SavedCase | undefined,
  { sliceMs, cancelled }: CheckpointOptions,
): Promise<{ bytes: number; cases: number } | undefined> {
  const partial = checkpointPath(file);
  let handle: FileHandle;
  try {
    handle = await open(partial, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new Error(`${partial} exists: another process is writing a checkpoint of ${file} (two instances given one --case-state-file?)`, { cause: error });
  }
  let closed = false;
  let renamed = false;
  try {
    let chunk = headerLine({ ...header, open_cases: 0 });
    let bytes = 0;
    let cases = 0;
    for (let done = false; !done; ) {
      const sliceEnds = performance.now() + sliceMs;
      // One case at the least per slice, however short.
      do {
        const saved = next();
        if (saved === undefined) {
          done = true;
          break;
        }
        chunk += `${JSON.stringify(saved)}\n`;
        cases++;
      } while (chunk.length < WRITE_CHUNK && performance.now() < sliceEnds);
      bytes += await writeAllAsync(handle, chunk);
      chunk = '';
      if (cancelled()) return undefined;
    }
    await writeAllAsync(handle, headerLine({ ...header, open_cases: cases }), 0);
    await handle.sync();
    await handle.close();
    closed = true;
    // Checked with nothing awaited before the rename: a shutdown's save, whenever it ran, is the newer file.
    if (cancelled()) return undefined;
    renameSync(partial, file);
    renamed = true;
    await syncDirectoryAsync(dirname(file));
    return { bytes, cases };
  } finally {
    if (!closed) await handle.close().catch(() => undefined);
    if (!renamed) rmSync(partial, { force: true });
  }
}

/** `writeAll` off the event loop; at `position` when given (the file's own position is left as it is then). */
async function writeAllAsync(handle: FileHandle, text: string, position?: number): Promise<number> {
  const buffer = Buffer.from(text, 'utf8');
  for (let offset = 0; offset < buffer.length; ) {
    const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset, position === undefined ? null : position + offset);
    offset += bytesWritten;
  }
  return buffer.length;
}

/** `syncDirectory` off the event loop: a network volume's sync can take long. */
async function syncDirectoryAsync(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch {
    // As in syncDirectory.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Makes the rename itself durable (a power cut could otherwise leave the old file or none). */
function syncDirectory(directory: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(directory, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse to sync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Checks at startup that the file's directory takes a file, so that a wrong path or a read-only volume stops startup
 * instead of losing the open cases at the shutdown. Throws the file system's error.
 */
export function checkWritable(file: string, checkpoints: boolean): void {
  // Left by a save or a checkpoint that a crash cut short (none of this process runs yet): they would refuse the next.
  // The checkpoint's name is the longer: without checkpoints a name that leaves no room for it must not stop startup.
  const partials = checkpoints ? [partialPath(file), checkpointPath(file)] : [partialPath(file)];
  if (!checkpoints) {
    try {
      rmSync(checkpointPath(file), { force: true });
    } catch {
      // Too long a name, say: then there is none to remove.
    }
  }
  for (const partial of partials) {
    rmSync(partial, { force: true });
    closeSync(openSync(partial, 'wx', 0o600));
    unlinkSync(partial);
  }
}

/**
 * Lines of a text read in chunks, split at '\n' alone: JSON.stringify leaves U+2028 and U+2029 unescaped in a string
 * (a case id or an attribute value may hold them), and readline would end a line at each, cutting the case's line in
 * two. A '\r' before the '\n' (a file edited on Windows) is whitespace to JSON.parse. Synchronous within a chunk: an
 * async generator, a promise per line, restored a million cases in 4.0 s where this takes 2.8 (readline 3.4).
 */
class LineSplitter {
  private rest = '';

  /** The lines `chunk` completes; what follows its last '\n' waits for the next chunk (or `end`). */
  push(chunk: string): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let end = chunk.indexOf('\n'); end !== -1; end = chunk.indexOf('\n', start)) {
      lines.push(this.rest + chunk.slice(start, end));
      this.rest = '';
      start = end + 1;
    }
    this.rest += chunk.slice(start);
    return lines;
  }

  /** A last line without its '\n' is a line too. */
  end(): string[] {
    return this.rest === '' ? [] : [this.rest];
  }
}

/**
 * Reads the file, handing each case to `onCase` in the file's order (least recently touched first) once its header has
 * been read and checked by `onHeader`; resolves to the header, or undefined when there is no file (a first start).
 */
export async function readCaseStateFile(
  file: string,
  onHeader: (header: CaseStateHeader) => void,
  onCase: (saved: SavedCase) => void,
): Promise<CaseStateHeader | undefined> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  try {
    await once(stream, 'open');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CaseStateFileError(file, `cannot be read (${(error as Error).message})`);
  }
  let header: CaseStateHeader | undefined;
  let count = 0;
  const ids = new Set<string>();
  let lineNumber = 0;
  const fail = (problem: string) => new CaseStateFileError(file, `line ${lineNumber}: ${problem}`);
  const take = (line: string) => {
    lineNumber++;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      throw fail(`is not valid JSON (${visibleText((error as Error).message)})`);
    }
    if (header === undefined) {
      const { format, version } = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
      if (format !== CASE_STATE_FORMAT) throw fail(`is not the header of a ${CASE_STATE_FORMAT} file (its "format" is ${JSON.stringify(format) ?? 'missing'})`);
      if (version !== CASE_STATE_VERSION) throw fail(`is version ${JSON.stringify(version) ?? 'missing'} of ${CASE_STATE_FORMAT}; this petrascore reads version ${CASE_STATE_VERSION}`);
      if (!checkHeader.Check(json)) {
        const first = checkHeader.Errors(json).First();
        throw fail(`is not a valid header (${first === undefined ? 'unknown' : `${first.path}: ${first.message}`})`);
      }
      header = json;
      onHeader(header);
      return;
    }
    if (!checkCase.Check(json)) {
      const first = checkCase.Errors(json).First();
      throw fail(`is not an open case (${first === undefined ? 'unknown' : `${first.path || '/'}: ${first.message}`})`);
    }
    if (ids.has(json.id)) throw fail(`case '${json.id}' appears a second time`);
    ids.add(json.id);
    count++;
    onCase(json);
  };
  try {
    const splitter = new LineSplitter();
    for await (const chunk of stream as AsyncIterable<string>) for (const line of splitter.push(chunk)) take(line);
    for (const line of splitter.end()) take(line);
  } catch (error) {
    if (error instanceof CaseStateFileError) throw error;
    throw new CaseStateFileError(file, `cannot be read (${(error as Error).message})`);
  } finally {
    stream.destroy();
  }
  if (header === undefined) throw new CaseStateFileError(file, 'is empty (no header line)');
  // The header is written first and the file renamed into place last: fewer lines than it counts is a file cut short.
  if (count < header.open_cases) throw new CaseStateFileError(file, `holds ${count} cases where its header says ${header.open_cases}: it is incomplete`);
  if (count > header.open_cases) throw new CaseStateFileError(file, `holds ${count} cases where its header says ${header.open_cases}: lines were added to it`);
  return header;
}
