import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, expect } from 'vitest';
import { buildApp, type App, type AppConfig } from '../../src/app.js';
import { defaultConfig } from '../../src/config/options.js';
import { killAllClis } from './cli.js';
import { DEFAULT_MODEL } from './fixtures.js';

export type Line = Record<string, unknown>;

/** What the --case-state-file tests share: state files in fresh directories, apps with their log lines, requests. */
export function useCaseStateFiles() {
  const dirs: string[] = [];
  const apps: App[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await killAllClis();
  });
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  return {
    stateFile(): string {
      const dir = mkdtempSync(join(tmpdir(), 'petrascore-state-'));
      dirs.push(dir);
      return join(dir, 'open-cases.jsonl');
    },

    /** The app as `serve` builds it, its log lines collected; `ready()` may reject (a file it cannot restore). */
    async app(overrides: Partial<AppConfig>): Promise<{ app: App; lines: Line[] }> {
      const lines: Line[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Line);
          done();
        },
      });
      const built = await buildApp({ ...defaultConfig(), bundle: DEFAULT_MODEL, liveStatsIntervalMs: 0, ...overrides }, { level: 'debug', stream });
      apps.push(built);
      await built.ready();
      return { app: built, lines };
    },
  };
}

export async function post(target: App, url: string, payload: unknown): Promise<Line> {
  const response = await target.inject({ method: 'POST', url, payload: payload as Record<string, unknown> });
  expect(response.statusCode, response.body).toBeLessThan(300);
  return response.json<Line>();
}

export async function get(target: App, url: string): Promise<{ status: number; body: string }> {
  const response = await target.inject({ method: 'GET', url });
  return { status: response.statusCode, body: response.body };
}

export function fileLines(file: string): Line[] {
  return readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Line);
}

/** Polls every 20 ms, or with `everyTurn` at every turn of the event loop (to catch a state that lasts a few turns). */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyTurn = false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => (everyTurn ? setImmediate(resolve) : setTimeout(resolve, 20)));
  }
}
