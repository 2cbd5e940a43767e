import { once } from 'node:events';
import { constants, createWriteStream, fchmodSync, fchownSync, fstatSync, unlinkSync, type WriteStream } from 'node:fs';
import { access, lstat, open, readdir, readlink, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
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
  /** Whether OUT changes only on commit (else the report is written into OUT as it goes). */
  replacesOnCommit: boolean;
  /** The report is complete (the stream has ended): put it in place. */
  commit(): Promise<void>;
  /** The run failed: leave OUT as it was (a direct write cannot). */
  abort(): Promise<void>;
  /** The same, at once, for a process about to exit on a signal. */
  discardNow(): void;
  /** Temporary reports of earlier runs that were killed (SIGKILL, out of memory), removed from OUT's directory. */
  staleRemoved: string[];
}

/** OUT cannot be written; the message says why in the user's terms (OUT and its directory, not the temporary file). */
export class ReportFileError extends Error {}

/** OUT names a directory (`what`: how, when through a link). */
function isDirectory(what = ''): ReportFileError {
  return new ReportFileError(`it is a directory${what}; -o takes the report's file name`);
}

/** Why a directory refuses a new file while an existing file in it may still be writable. */
const DIRECTORY_REFUSES: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'EROFS']);

function direct(path: string, stream = createWriteStream(path)): ReportFile {
  return { stream, replacesOnCommit: false, commit: async () => {}, abort: async () => {}, discardNow: () => {}, staleRemoved: [] };
}

/**
 * OUT written directly (a symbolic link, a device, a pipe), opened before the report is: a link into a directory that
 * does not exist fails now, not when the scored log's first entry is written.
 */
async function openDirect(path: string): Promise<ReportFile> {
  const stream = createWriteStream(path);
  try {
    await once(stream, 'open');
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    const target = await readlink(path).catch(() => undefined);
    const what = target === undefined ? '' : ` (it is a symbolic link to ${target})`;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ReportFileError(`its directory does not exist${what}`);
    if (code === 'EISDIR') throw isDirectory(what);
    if (code === 'EACCES' || code === 'EPERM') throw new ReportFileError(`permission denied${what}`);
    throw new ReportFileError((error as Error).message);
  }
  return direct(path, stream);
}

/** A temporary report is stale when its run's process is gone and it has not been written to for this long. */
const STALE_AFTER_MS = 60 * 60 * 1000;

/** The longest file name Linux file systems take (NAME_MAX), in bytes. */
const NAME_MAX = 255;
/** What `.OUT.<pid>.partial` adds to OUT's name, with a pid of 10 digits (the most a 32-bit one has). */
const TEMPORARY_EXTRA = '..'.length + 10 + '.partial'.length;

/**
 * `.OUT.` of the temporary report's name. An OUT whose name is within NAME_MAX of its own is cut to leave room for the
 * rest (at a character's end), else its temporary name would be refused (ENAMETOOLONG) where `>` writes OUT.
 */
function temporaryPrefix(path: string): string {
  const name = basename(path);
  let bytes = Buffer.byteLength(name);
  if (bytes <= NAME_MAX - TEMPORARY_EXTRA) return `.${name}.`;
  const characters = [...name];
  while (bytes > NAME_MAX - TEMPORARY_EXTRA) bytes -= Buffer.byteLength(characters.pop()!);
  return `.${characters.join('')}.`;
}

function temporaryName(path: string, pid: number): string {
  return join(dirname(path), `${temporaryPrefix(path)}${pid}.partial`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A run killed outright (SIGKILL, the kernel's out-of-memory killer) cannot remove its temporary report, which can be
 * as large as the report. The next run for the same OUT removes those whose process is gone and that an hour has not
 * touched (a run on another machine sharing the directory keeps writing to its own).
 */
async function removeStaleTemporaries(path: string): Promise<string[]> {
  const prefix = temporaryPrefix(path);
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const pid = name.startsWith(prefix) ? /^(\d+)\.partial$/.exec(name.slice(prefix.length))?.[1] : undefined;
    if (pid === undefined || Number(pid) === process.pid || isRunning(Number(pid))) continue;
    const file = temporaryName(path, Number(pid));
    const stats = await lstat(file).catch(() => undefined);
    if (stats?.isFile() !== true || Date.now() - stats.mtimeMs < STALE_AFTER_MS) continue;
    if (await unlink(file).then(() => true, () => false)) removed.push(file);
  }
  return removed;
}

function whyNot(path: string, error: NodeJS.ErrnoException): ReportFileError {
  const directory = dirname(path);
  switch (error.code) {
    case 'ENOENT':
      return new ReportFileError(`directory ${directory} does not exist`);
    case 'ENOTDIR':
      return new ReportFileError(`${directory} is not a directory`);
    case 'EACCES':
    case 'EPERM':
      return new ReportFileError(`permission denied: directory ${directory} takes no new file`);
    case 'EROFS':
      return new ReportFileError(`directory ${directory} is on a read-only file system`);
    case 'ENAMETOOLONG': {
      const bytes = Buffer.byteLength(basename(path));
      return new ReportFileError(bytes > NAME_MAX ? `its file name is ${bytes} bytes long, more than the ${NAME_MAX} a file name may have` : 'the path is longer than the file system takes (ENAMETOOLONG)');
    }
    default:
      // Node's message names the temporary file after a comma ("…, open '/x/.y.partial'").
      return new ReportFileError(error.message.replace(/, \w+ '.*'$/s, ''));
  }
}

/** A file the run reads (the bundle's model and sidecar, the log), which OUT must not be. */
export interface ReadFile {
  path: string;
  /** What it is, for the message: "the log being scored". */
  what: string;
}

/**
 * Throws ReportFileError for what is wrong with OUT that shows without writing anything: a name the file system refuses,
 * a directory that is missing or not one, OUT itself a directory or one of the files the run reads (`reads`: the report
 * would replace a model or a day's log for a typo), an existing report this user may not write, or a directory that
 * takes no new file when OUT does not exist. Checked before the log is read, so that such an -o fails at
 * once rather than after a long read or, for a name too long, after the whole log was scored (the rename over OUT is
 * the first call that takes OUT's own name). openReportFile opens it after the log's first trace and asks again.
 */
export async function checkReportPath(path: string, reads: readonly ReadFile[] = []): Promise<void> {
  const directory = dirname(path);
  const found = await lstat(directory).then(
    (stats) => stats.isDirectory() || stats.isSymbolicLink(),
    (error: NodeJS.ErrnoException) => {
      throw whyNot(path, error);
    },
  );
  if (!found) throw new ReportFileError(`${directory} is not a directory`);
  // Looked up even when OUT does not exist: a name too long fails the look-up, as it would fail the rename.
  const entry = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw whyNot(path, error);
  });
  // stat, not lstat: a symbolic link to a directory is one too. A link to nothing is opened as it is (openDirect).
  const itself = entry?.isSymbolicLink() === true ? await stat(path).catch(() => undefined) : entry;
  if (itself?.isDirectory() === true) throw isDirectory();
  if (itself !== undefined) {
    for (const read of reads) {
      // The same file under any name: a link, a relative path, a hard link.
      const file = await stat(read.path).catch(() => undefined);
      if (file !== undefined && file.dev === itself.dev && file.ino === itself.ino) throw new ReportFileError(`it is ${read.what} (${read.path}), which the report would replace; give another file`);
    }
  }
  if (entry === undefined) {
    // Creating the temporary report takes writing and searching the directory.
    await access(directory, constants.W_OK | constants.X_OK).catch((error: NodeJS.ErrnoException) => {
      throw whyNot(path, error);
    });
  } else if (itself !== undefined && !(await access(path, constants.W_OK).then(() => true, () => false))) {
    // As openReportFile refuses it: `>` would not write it either.
    throw new ReportFileError('permission denied');
  }
}

/** Created, never opened: O_EXCL does not follow a symbolic link, nor O_NOFOLLOW a link in the last component. */
const NEW_FILE_ONLY = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * The temporary report, as a new file of this run's own. Its name is predictable (the pid): in a directory others may
 * write, a link planted under it would have the report written, chown'd and chmod'ed through it into the file it
 * names, and renamed over OUT. Whatever is there already (a killed run's leftover under a reused pid, or such a link)
 * is removed, not followed; a second one planted meanwhile fails the open.
 */
async function openTemporary(temporary: string): Promise<FileHandle> {
  try {
    return await open(temporary, NEW_FILE_ONLY, 0o666);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    await unlink(temporary);
    return open(temporary, NEW_FILE_ONLY, 0o666);
  }
}

/** Throws ReportFileError when OUT cannot be written. */
export async function openReportFile(path: string): Promise<ReportFile> {
  // lstat: a symbolic link is written through, as before, rather than replaced by a file of its own.
  const existing = await lstat(path).catch(() => undefined);
  // Checked again here: the directory may have come since checkReportPath looked, before the log was read.
  if (existing?.isDirectory() === true) throw isDirectory();
  if (existing !== undefined && !existing.isFile()) return openDirect(path);
  // A report the user cannot write is not replaced behind their back, as `>` would not write it either.
  if (existing !== undefined && !(await access(path, constants.W_OK).then(() => true, () => false))) throw new ReportFileError('permission denied');
  const staleRemoved = await removeStaleTemporaries(path);
  const temporary = temporaryName(path, process.pid);
  // Opened here rather than by the stream, to learn now whether the directory takes a new file.
  const handle = await openTemporary(temporary).catch((error: NodeJS.ErrnoException) => {
    if (existing !== undefined && DIRECTORY_REFUSES.has(error.code ?? '')) return undefined;
    throw whyNot(path, error);
  });
  if (handle === undefined) return { ...direct(path), staleRemoved };
  if (existing !== undefined) {
    // The new report keeps the old one's permissions, and its owner where this user may give it (root may). Through
    // the handle: by its name, the file could have been swapped for a link by the time the report is complete. And
    // synchronously: until this returns, a signal's handler has no report to remove. The mode first, while the file is
    // still this user's own: once given away, changing it takes the capability to override ownership (CAP_FOWNER),
    // which a root job may lack (a systemd unit's capability set), and a report of mode 600 would be left world-readable.
    try {
      fchmodSync(handle.fd, existing.mode & 0o7777);
    } catch {
      // A file system without modes (vfat, some network mounts): the report keeps the one it was created with, unless
      // that would let others read or write what they could not before.
      const mode = fstatSync(handle.fd).mode & 0o777;
      if ((mode & ~existing.mode) !== 0) {
        await handle.close();
        await unlink(temporary).catch(() => undefined);
        throw new ReportFileError(`the new report cannot be given its mode ${(existing.mode & 0o777).toString(8)} (the file system leaves it ${mode.toString(8)}); it is left as it was`);
      }
    }
    try {
      fchownSync(handle.fd, existing.uid, existing.gid);
    } catch {
      // Not this user's to give: the report is its own.
    }
  }
  const stream = handle.createWriteStream();
  return {
    stream,
    replacesOnCommit: true,
    staleRemoved,
    commit: async () => {
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
    discardNow: () => {
      stream.destroy();
      try {
        unlinkSync(temporary);
      } catch {
        // already gone
      }
    },
  };
}
