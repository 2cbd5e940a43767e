import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { readLog, type LogItem, type ReadOptions } from '../../src/logs/index.js';

export async function readAll(path: string, options?: ReadOptions): Promise<LogItem[]> {
  const items: LogItem[] = [];
  for await (const item of readLog(path, options)) items.push(item);
  return items;
}

/** The rejection of reading the whole log, for assertions on LogInputError fields. */
export async function readError(path: string, options?: ReadOptions): Promise<unknown> {
  try {
    await readAll(path, options);
  } catch (error) {
    return error;
  }
  throw new Error(`reading ${path} did not fail`);
}

let dir: string | undefined;

// Registered while the importing test file is collected, so each file removes its own directory.
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

export function tempFile(name: string, content: string | Buffer): string {
  dir ??= mkdtempSync(join(tmpdir(), 'petrascore-logs-'));
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Plain copies, so comparisons do not depend on the readers' null-prototype records. */
export function plain(record: Record<string, string>): Record<string, string> {
  return { ...record };
}
