import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isGzipped } from './detect-format.js';
import { LogInputError } from './errors.js';

/**
 * The file's bytes chunk by chunk (decompressed when the name ends in `.gz`),
 * so readers never hold more than one chunk of raw input.
 */
export async function* readBytes(path: string, onProgress?: (bytesRead: number) => void): AsyncGenerator<Buffer> {
  const file = createReadStream(path);
  const gunzip = isGzipped(path) ? createGunzip() : undefined;
  // pipeline forwards a read error (e.g. ENOENT) into gunzip, whose iterator then rejects with it.
  if (gunzip) pipeline(file, gunzip, () => undefined);
  const stream = gunzip ?? file;
  try {
    for await (const chunk of stream) {
      // Bytes of the file itself (compressed, for .gz), to compare with its size.
      onProgress?.(file.bytesRead);
      yield chunk as Buffer;
    }
  } catch (error) {
    throw toLogInputError(path, error);
  } finally {
    // Reached early when the consumer stops iterating; the file descriptor must not leak.
    file.destroy();
    gunzip?.destroy();
  }
}

function toLogInputError(path: string, error: unknown): Error {
  if (error instanceof LogInputError) return error;
  const code = error instanceof Error && 'code' in error ? String(error.code) : '';
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'ENOENT':
      return new LogInputError(path, 'file not found');
    case 'EISDIR':
      return new LogInputError(path, 'is a directory, expected a log file');
    case 'EACCES':
    case 'EPERM':
      return new LogInputError(path, 'permission denied');
    case 'Z_BUF_ERROR':
      return new LogInputError(path, 'gzip data is truncated (unexpected end of file)');
    case 'Z_DATA_ERROR':
      return new LogInputError(path, `not valid gzip data (${message}); expected a gzip file because the name ends in .gz`);
    default:
      return new LogInputError(path, `cannot read the file: ${message}`);
  }
}
