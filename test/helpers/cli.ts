import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, ROOT } from './fixtures.js';

/** The compiled CLI, as `npx petrascore` runs it. The tests exercise what `npm run build` produced. */
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

/** Bounds on every wait: a cold start loads onnxruntime and the model; none of the fixture bundles needs seconds. */
export const START_TIMEOUT_MS = 20_000;
export const EXIT_TIMEOUT_MS = 20_000;

const LISTENING = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/;

function newestSource(dir: string): { file: string; mtimeMs: number } | undefined {
  let newest: { file: string; mtimeMs: number } | undefined;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const candidate = entry.isDirectory() ? newestSource(path) : entry.name.endsWith('.ts') ? { file: path, mtimeMs: statSync(path).mtimeMs } : undefined;
    if (candidate !== undefined && (newest === undefined || candidate.mtimeMs > newest.mtimeMs)) newest = candidate;
  }
  return newest;
}

let checkedBuild = false;

/** The CLI tests need dist/; a missing build is a clear failure, an outdated one a loud warning (others edit src concurrently). */
function checkBuild(): void {
  if (checkedBuild) return;
  checkedBuild = true;
  if (!existsSync(CLI)) throw new Error(`${CLI} does not exist: run 'npm run build' before the CLI tests`);
  const built = statSync(CLI).mtimeMs;
  const newest = [newestSource(join(ROOT, 'src')), newestSource(join(ROOT, 'routes'))]
    .filter((x): x is { file: string; mtimeMs: number } => x !== undefined)
    .sort((a, b) => b.mtimeMs - a.mtimeMs)[0];
  if (newest !== undefined && newest.mtimeMs > built) {
    console.warn(`CLI tests: ${newest.file} is newer than ${CLI}; the tests run the old build ('npm run build' to refresh)`);
  }
}

/**
 * The parent's environment without any PETRASCORE_* or ORT_* setting (so neither a developer's shell nor the test
 * process, where loading the runner sets ORT_DISABLE_TELEMETRY, can steer a test), plus `env`.
 */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PETRASCORE_') && !key.startsWith('ORT_')) base[key] = value;
  return { ...base, ...env };
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliOptions {
  env?: Record<string, string>;
  /** Flags for node itself, before the CLI's path (as `npm start` gives its own). */
  nodeFlags?: readonly string[];
  cwd?: string;
  /** Run the CLI as file permissions apply to it: as root, without the capabilities that override them. */
  permissionsApply?: boolean;
  /** A file whose content is the CLI's standard input (else it has none). */
  stdinFrom?: string;
  /** Capabilities dropped from the child's bounding set (setpriv; for root), e.g. ['fowner']. */
  withoutCapabilities?: readonly string[];
  /** The child's open-file limit, soft and hard (`ulimit -n`): Node raises the soft one to the hard one. */
  openFileLimit?: number;
  /**
   * The largest file the child may write, in 512-byte blocks (`ulimit -f` in sh): a write that reaches it is cut short,
   * as on a disk that fills up (Node ignores SIGXFSZ), and the next one fails with EFBIG.
   */
  fileSizeLimit?: number;
}

const isRoot = process.getuid?.() === 0;
/** setpriv (util-linux) drops root's permission override from the child's capabilities; root keeps its own files. */
const DROP_OVERRIDE = ['setpriv', '--bounding-set=-dac_override,-dac_read_search'];

/**
 * Whether `permissionsApply` can be honoured here: always for another user; for root, when setpriv can drop the
 * capabilities (CI runs as root).
 */
export const permissionsCanApply = !isRoot || spawnSync(DROP_OVERRIDE[0]!, [...DROP_OVERRIDE.slice(1), 'true']).status === 0;

const live = new Set<CliProcess>();

/** One `node dist/src/cli/main.js …` child, its output collected as it arrives. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  exitStatus: ExitStatus | undefined;
  readonly exited: Promise<ExitStatus>;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly args: readonly string[],
    options: CliOptions = {},
  ) {
    checkBuild();
    const command = [process.execPath, ...(options.nodeFlags ?? []), CLI, ...args];
    if (options.permissionsApply === true && isRoot) command.unshift(...DROP_OVERRIDE);
    if (options.withoutCapabilities !== undefined) command.unshift('setpriv', `--bounding-set=${options.withoutCapabilities.map((c) => `-${c}`).join(',')}`);
    if (options.openFileLimit !== undefined) command.unshift('sh', '-c', 'ulimit -n "$0" && exec "$@"', String(options.openFileLimit));
    if (options.fileSizeLimit !== undefined) command.unshift('sh', '-c', 'ulimit -f "$0" && exec "$@"', String(options.fileSizeLimit));
    const stdin = options.stdinFrom === undefined ? 'ignore' : openSync(options.stdinFrom, 'r');
    this.child = spawn(command[0]!, command.slice(1), { cwd: options.cwd ?? ROOT, env: childEnv(options.env ?? {}), stdio: [stdin, 'pipe', 'pipe'] });
    if (typeof stdin === 'number') closeSync(stdin);
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.notify();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      // 'close' (not 'exit'): by then stdout and stderr are complete.
      this.child.once('close', (code, signal) => {
        this.exitStatus = { code, signal };
        live.delete(this);
        this.notify();
        resolve(this.exitStatus);
      });
      this.child.once('error', () => {
        this.exitStatus ??= { code: null, signal: null };
        live.delete(this);
        this.notify();
        resolve(this.exitStatus);
      });
    });
    live.add(this);
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** What the process said so far, for failure messages. */
  describe(): string {
    const tail = (text: string) => (text.length > 3000 ? `…${text.slice(-3000)}` : text);
    return `petrascore ${this.args.join(' ')}\n  exit: ${JSON.stringify(this.exitStatus ?? 'running')}\n  stdout:\n${tail(this.stdout)}\n  stderr:\n${tail(this.stderr)}`;
  }

  /**
   * Resolves once `check()` returns a value other than undefined (re-checked on every output chunk and at exit);
   * rejects when the time runs out, naming `what` and showing the output.
   */
  waitFor<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(poll);
      };
      const poll = () => {
        let value: T | undefined;
        try {
          value = check();
        } catch (error) {
          done();
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (value !== undefined) {
          done();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`));
      }, timeoutMs);
      this.waiters.add(poll);
      poll();
    });
  }

  /** Resolves with a match of `pattern` on stdout; rejects if the process exits first or the time runs out. */
  waitForStdout(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return this.waitFor(
      `stdout to match ${pattern}`,
      () => {
        const match = pattern.exec(this.stdout);
        if (match !== null) return match;
        if (this.exitStatus !== undefined) throw new Error(`exited before stdout matched ${pattern}\n${this.describe()}`);
        return undefined;
      },
      timeoutMs,
    );
  }

  waitForExit(timeoutMs: number = EXIT_TIMEOUT_MS): Promise<ExitStatus> {
    return this.waitFor('the process to exit', () => this.exitStatus, timeoutMs);
  }

  signal(signal: NodeJS.Signals): void {
    if (this.exitStatus !== undefined) throw new Error(`cannot send ${signal}: already exited\n${this.describe()}`);
    this.child.kill(signal);
  }

  /** SIGKILL unless already gone; resolves once it is. */
  async kill(): Promise<void> {
    if (this.exitStatus === undefined) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** stdout's pino JSON lines (non-JSON lines skipped). */
  logLines(): Record<string, unknown>[] {
    const lines: Record<string, unknown>[] = [];
    for (const line of this.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const value: unknown = JSON.parse(line);
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) lines.push(value as Record<string, unknown>);
      } catch {
        // a line cut mid-write; the next chunk completes it
      }
    }
    return lines;
  }
}

/** Kills every CLI child still running: call it in afterEach. */
export async function killAllClis(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}

export interface CliResult extends ExitStatus {
  stdout: string;
  stderr: string;
  describe: string;
}

/** Runs the CLI to completion (killing it if it outlives `timeoutMs`, which fails the call). */
export async function runCli(args: readonly string[], options: CliOptions = {}, timeoutMs: number = EXIT_TIMEOUT_MS): Promise<CliResult> {
  const cli = new CliProcess(args, options);
  try {
    const status = await cli.waitForExit(timeoutMs);
    return { ...status, stdout: cli.stdout, stderr: cli.stderr, describe: cli.describe() };
  } finally {
    await cli.kill();
  }
}

export interface RunningServer {
  cli: CliProcess;
  port: number;
  url: string;
}

/**
 * Starts the CLI and waits for pino's "Server listening at http://127.0.0.1:PORT" (so pass `--port 0` or
 * PETRASCORE_PORT=0, and keep the log level at info or below). Rejects, killing the child, if it exits or stays silent.
 */
export async function startServer(args: readonly string[], options: CliOptions = {}, timeoutMs: number = START_TIMEOUT_MS): Promise<RunningServer> {
  const cli = new CliProcess(args, options);
  try {
    const match = await cli.waitForStdout(LISTENING, timeoutMs);
    const port = Number(match[1]);
    return { cli, port, url: `http://127.0.0.1:${port}` };
  } catch (error) {
    await cli.kill();
    throw error;
  }
}

/** `serve BUNDLE --host 127.0.0.1 --port 0 …extra`. */
export function serveArgs(bundle: string, ...extra: string[]): string[] {
  return ['serve', bundle, '--host', '127.0.0.1', '--port', '0', ...extra];
}

/** A private copy of a public fixture bundle, to break. */
export interface TempBundle {
  dir: string;
  model: string;
  sidecar: string;
}

const tempDirs = new Set<string>();

/** A fresh directory under the system's temporary one, removed by `removeTempDirs`. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `petrascore-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export function copyBundle(fixture: string): TempBundle {
  const dir = tempDir(fixture);
  const model = join(dir, 'model.onnx');
  const sidecar = `${model}.meta.json`;
  cpSync(join(FIXTURES, fixture, 'model.onnx'), model);
  cpSync(join(FIXTURES, fixture, 'model.onnx.meta.json'), sidecar);
  return { dir, model, sidecar };
}

export type JsonObject = Record<string, unknown>;

export function readSidecar(bundle: TempBundle): JsonObject {
  return JSON.parse(readFileSync(bundle.sidecar, 'utf8')) as JsonObject;
}

/** Rewrites the copy's sidecar with whatever `edit` returns (or the object it edited in place). */
export function editSidecar(bundle: TempBundle, edit: (sidecar: JsonObject) => JsonObject | void): void {
  const sidecar = readSidecar(bundle);
  writeFileSync(bundle.sidecar, JSON.stringify(edit(sidecar) ?? sidecar, null, 2));
}

export function removeTempDirs(): void {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
