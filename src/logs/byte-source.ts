import { createReadStream, fstatSync, type ReadStream } from 'node:fs';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isGzipped } from './detect-format.js';
import { LogInputError } from './errors.js';

/** The path that means standard input (`--traces -`). */
export const STDIN = '-';

/** gzip's two signature bytes. A UTF-8 text cannot start with them (0x8b is a continuation byte). */
function startsGzipped(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * The file's bytes chunk by chunk, decompressed when the name ends in `.gz` or the data starts with gzip's signature
 * (a nightly export gzipped under its plain name, or piped in), so readers never hold more than one chunk of raw input.
 */
export async function* readBytes(path: string, onProgress?: (bytesRead: number) => void): AsyncGenerator<Buffer> {
  // Node reads a directory on standard input (`< logs/`) as empty, which would say "no traces parsed".
  if (path === STDIN && stdinIsDirectory()) throw new LogInputError('standard input', 'is a directory, expected a log file');
  const file: ReadStream | NodeJS.ReadStream = path === STDIN ? process.stdin : createReadStream(path);
  // Bytes of the file itself (compressed, for gzip), to compare with its size; standard input has none to compare.
  const progress = () => {
    if (onProgress !== undefined && 'bytesRead' in file) onProgress(file.bytesRead);
  };
  const named = isGzipped(path);
  let gzipped = named;
  /** The data starts with gzip's signature: a bad header after that is not the first member's. */
  let signed = false;
  const chunks = file[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    const first = await chunks.next();
    if (first.done === true) return;
    // A pipe may hand over a single byte first: the signature takes two.
    while (first.value.length < 2) {
      const next = await chunks.next();
      if (next.done === true) break;
      first.value = Buffer.concat([first.value, next.value]);
    }
    signed = startsGzipped(first.value);
    gzipped ||= signed;
    const raw = rest(first.value, chunks);
    // pipeline forwards a read error (e.g. ENOENT) into gunzip, whose iterator then rejects with it.
    const bytes: AsyncIterable<Buffer> = gzipped ? pipeline(Readable.from(raw), createGunzip(), () => undefined) : raw;
    let head = gzipped;
    for await (const chunk of bytes) {
      // Compressed once more inside: no reader takes that, and the advice for gzip under a plain name would not help.
      if (head && startsGzipped(chunk)) throw new LogInputError(path === STDIN ? 'standard input' : path, 'the data is gzip-compressed twice; decompress it once (gunzip) and score the result');
      head = false;
      progress();
      yield chunk;
    }
  } catch (error) {
    throw toLogInputError(path, error, named, signed);
  } finally {
    // Reached early when the consumer stops iterating; the file descriptor must not leak.
    if (file !== process.stdin) file.destroy();
  }
}

function stdinIsDirectory(): boolean {
  try {
    return fstatSync(0).isDirectory();
  } catch {
    // A closed standard input: reading it says so.
    return false;
  }
}

async function* rest(head: Buffer, chunks: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield head;
  for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) yield next.value;
}

function toLogInputError(path: string, error: unknown, named: boolean, signed: boolean): Error {
  if (error instanceof LogInputError) return error;
  const code = error instanceof Error && 'code' in error ? String(error.code) : '';
  const message = error instanceof Error ? error.message : String(error);
  const file = path === STDIN ? 'standard input' : path;
  switch (code) {
    case 'ENOENT':
      return new LogInputError(file, 'file not found');
    case 'EISDIR':
      return new LogInputError(file, 'is a directory, expected a log file');
    case 'EACCES':
    case 'EPERM':
      return new LogInputError(file, 'permission denied');
    case 'Z_BUF_ERROR':
      return new LogInputError(file, 'gzip data is truncated (unexpected end of file)');
    case 'Z_DATA_ERROR':
      // zlib checks the signature alone as "incorrect header check": with the data's first bytes right, what lacks it
      // comes after a whole member. gzip -d ignores such bytes with a warning; Node's gunzip fails, and drops the output
      // of its last run before them, so reading on from what came out would score a log cut short without a word.
      if (signed && message === 'incorrect header check') {
        return new LogInputError(
          file,
          'the gzip data is followed by bytes that are not gzip ("trailing garbage", which gzip -d ignores with a warning); decompress it with gzip -dc, check that the log is complete, and score the result',
        );
      }
      return new LogInputError(file, `not valid gzip data (${message}); expected a gzip file because ${named ? 'the name ends in .gz' : 'it starts with the gzip signature'}`);
    default:
      return new LogInputError(file, `cannot read the file: ${message}`);
  }
}
