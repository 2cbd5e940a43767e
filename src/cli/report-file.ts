import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, lstat, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Where `petrascore score -o OUT` writes. A regular file (or a new one) is written beside OUT under a temporary name
 * and renamed over it only when the run succeeds: a nightly job whose log turns out unreadable keeps its last good
 * report instead of an empty or half-written one. Anything else (/dev/null, a pipe, a symbolic link) is written directly,
 * and so is an existing file in a directory where no file can be created (a report set up by an administrator in a
 * read-only directory): without the guarantee, as before it.
 */
export interface ReportFile {
  stream: WriteStream;
  /** The report is complete (the stream has ended): put it in place. */
  commit(): Promise<void>;
  /** The run failed: leave OUT as it was. */
  abort(): Promise<void>;
}

/** Why a directory refuses a new file while an existing file in it may still be writable. */
const DIRECTORY_REFUSES: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'EROFS']);

function direct(path: string): ReportFile {
  return { stream: createWriteStream(path), commit: async () => {}, abort: async () => {} };
}

export async function openReportFile(path: string): Promise<ReportFile> {
  // lstat: a symbolic link is written through, as before, rather than replaced by a file of its own.
  const existing = await lstat(path).catch(() => undefined);
  if (existing !== undefined && !existing.isFile()) return direct(path);
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.partial`);
  // Opened here rather than by the stream, to learn now whether the directory takes a new file.
  const handle = await open(temporary, 'w').catch((error: NodeJS.ErrnoException) => {
    if (existing !== undefined && DIRECTORY_REFUSES.has(error.code ?? '')) return undefined;
    throw error;
  });
  if (handle === undefined) return direct(path);
  const stream = handle.createWriteStream();
  return {
    stream,
    commit: async () => {
      // The new report keeps the permissions the old one had.
      if (existing !== undefined) await chmod(temporary, existing.mode & 0o7777);
      await rename(temporary, path);
    },
    abort: async () => {
      if (!stream.closed) {
        const closed = once(stream, 'close').catch(() => undefined);
        stream.destroy();
        await closed;
      }
      await unlink(temporary).catch(() => undefined);
    },
  };
}
