import { writeSync } from 'node:fs';
import { hostname } from 'node:os';
import type { ServerResponse } from 'node:http';
import pino from 'pino';
import { buildApp, type App } from '../app.js';
import { BundleError } from '../bundle/errors.js';
import { CaseStateFileError } from '../cases/case-state-file.js';
import { workerBusy, workerLoadsSettled, workerStuck } from '../inference/worker-runner.js';
import { EXIT } from './exit-codes.js';
import { quietWhenStdoutCloses } from './standard-streams.js';
import { parseServeArgs, serveUsage, serviceLinkPorts, unknownVariables, UsageError } from '../config/parse-serve-args.js';

const SEE_HELP = "(petrascore serve --help lists every option and its environment variable)";

/** pino's numbers for the levels --log-level names (silent has none: nothing reaches it). */
const LEVELS = pino.levels.values;
const [INFO, WARN, ERROR, FATAL] = [LEVELS.info!, LEVELS.warn!, LEVELS.error!, LEVELS.fatal!];

/** A log line as pino writes it (level, time, pid, hostname, msg), for what is said where the logger is not there. */
function jsonLine(level: number, msg: string, fields: Record<string, string | number | undefined>): string {
  return `${JSON.stringify({ level, time: Date.now(), pid: process.pid, hostname: hostname(), msg, ...fields })}\n`;
}

function fail(message: string, code: number): number {
  process.stderr.write(`petrascore: ${message}\n`);
  // Also as a JSON log line on stdout, where a log pipeline reading only the service's JSON would otherwise see
  // "loading bundle" and then nothing.
  process.stdout.write(jsonLine(FATAL, `petrascore: ${message.split('\n')[0]}`, { exit_code: code }));
  return code;
}

/**
 * One warning per PETRASCORE_* variable that is no setting's (PETRASCORE_PORTT is ignored, and the server listens on
 * the default port), naming the setting it was probably meant for. Written at once, before the bundle loads, as the
 * logger would and at its level: a misspelt PETRASCORE_BUNDLE should be named before the default bundle fails to load.
 */
function warnOfUnknownVariables(env: NodeJS.ProcessEnv, logLevel: string): void {
  // The level is one of LEVELS' (the parser checked it).
  if ((LEVELS[logLevel] ?? Number.POSITIVE_INFINITY) > WARN) return;
  for (const { variable, flag, service } of serviceLinkPorts(env)) {
    const message = `${variable} looks like a Kubernetes service link (a Service named ${service} sets it to tcp://…) and is ignored: the port is ${flag} or the default; set enableServiceLinks: false in the pod, or give ${variable} a number`;
    process.stdout.write(jsonLine(WARN, message, { variable }));
  }
  for (const { variable, closest } of unknownVariables(env)) {
    // The value is not shown: it may be a webhook's URL with its token.
    const guess = closest === undefined ? '' : `; did you mean ${closest}?`;
    process.stdout.write(jsonLine(WARN, `unknown environment variable ${variable} is ignored${guess} (petrascore serve --help lists them)`, { variable, closest }));
  }
}

/**
 * An exception nothing caught (or a promise rejected with nobody to hear it) ends the process as Node ends it, with a
 * stack trace on stderr and exit code 1; a log pipeline reading only the JSON on stdout would see the service stop
 * without a word. A monitor adds the fatal JSON line and changes nothing else. Written synchronously: the process
 * exits right after.
 */
function logUncaughtExceptions(): void {
  process.on('uncaughtExceptionMonitor', (error: unknown, origin) => {
    const what = origin === 'unhandledRejection' ? 'unhandled promise rejection' : 'uncaught exception';
    const message = error instanceof Error ? error.message : String(error);
    const stack = error instanceof Error ? error.stack : undefined;
    try {
      writeSync(1, jsonLine(FATAL, `petrascore: ${what}: ${message}`, { exit_code: EXIT.failure, stack }));
    } catch {
      // stdout gone or full: stderr has the stack trace all the same.
    }
  });
}

/**
 * From the start of a shutdown (the drain delay included), responses being produced, and those of requests that still
 * arrive on open connections, are told to close their connection. During the delay this moves keep-alive clients (a
 * workflow engine's connection pool) off this instance while it still answers them: their next request opens a new
 * connection, which a Service whose endpoints no longer list this pod sends to a ready one, where a kept connection
 * would stay here until the drain closed it, racing a request on its way. Call the returned function when the drain
 * begins: from then on a connection is also closed once its response is done, since a keep-alive connection left open
 * after its response would hold `server.close()` (and so the exit) until the keep-alive timeout.
 */
function closeConnectionsAfterAnswers(app: App): () => void {
  let draining = false;
  // The admin listener's too: a scraper's kept connection would otherwise be cut under a scrape when the drain begins.
  const admin = app.adminListener.server();
  const servers = admin === undefined ? [app.server] : [app.server, admin];
  const closeIdle = () => setImmediate(() => servers.forEach((server) => server.closeIdleConnections()));
  const markClosing = (res: ServerResponse) => {
    if (!res.headersSent) res.setHeader('connection', 'close');
    // Backstop for a response whose headers were already out: once it is done its connection is idle and can go.
    res.once('finish', () => {
      if (draining) closeIdle();
    });
  };
  for (const res of app.openResponses) markClosing(res);
  // Before Fastify's own listener: a route that answers at once (/readyz, a 404) has sent its head when that returns.
  for (const server of servers) server.prependListener('request', (_req, res: ServerResponse) => markClosing(res));
  return () => {
    draining = true;
  };
}

/**
 * On SIGTERM, SIGINT or SIGHUP: after `delayMs` of answering /readyz with 503 (and everything else as usual), stops accepting,
 * lets in-flight requests finish (up to the timeout), then resolves so the process can exit 0. A fatal failure of the
 * service (the inference worker stopped) starts the same shutdown, and the process exits 1 at its end: an orchestrator
 * restarts it even without a liveness probe.
 */
function drainOnSignals(app: App, timeoutMs: number, delayMs: number): Promise<number> {
  return new Promise((resolve) => {
    let closing = false;
    /** The exit code of a shutdown that completes: 0 unless the service failed. */
    let completedCode: number = EXIT.ok;
    /** `cause` says in the log lines why the shutdown began: `{ signal }` or `{ failure }`. */
    let drainConnections = (): void => undefined;
    const begin = (cause: Record<string, string>) => {
      closing = true;
      drainConnections = closeConnectionsAfterAnswers(app);
      if (delayMs === 0) drain(cause);
      else {
        app.beginDraining();
        app.log.info({ ...cause, delay_ms: delayMs }, 'shutting down: /readyz is 503, serving on until the drain');
        setTimeout(() => drain(cause), delayMs);
      }
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (closing) {
        app.log.warn({ signal }, 'second signal: exiting without waiting');
        resolve(EXIT.failure);
        return;
      }
      begin({ signal });
    };
    const drain = (cause: Record<string, string>) => {
      drainConnections();
      app.log.info({ ...cause, timeout_ms: timeoutMs }, 'shutting down: finishing in-flight requests');
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        // Which requests held it (a stalled upload, a long batch, a /live stream), and how many.
        const inFlight = { in_flight: app.openResponses.size, requests: app.openResponses.describe(10) };
        app.log.error({ timeout_ms: timeoutMs, ...inFlight }, 'shutdown timed out with requests still in flight');
        resolve(EXIT.failure);
      }, timeoutMs);
      timer.unref();
      app.closeDeadline = Date.now() + timeoutMs;
      app.close().then(
        () => {
          clearTimeout(timer);
          // The exit (1) was decided when the time ran out; a close finishing in the moments before the process ends
          // must not then say it went cleanly.
          if (timedOut) return;
          // The failure itself was logged once, at fatal, where it arose.
          if (completedCode === 0) app.log.info('shut down cleanly');
          else app.log.info({ exit_code: completedCode }, 'shut down after the failure: exiting non-zero so that the service is restarted');
          resolve(completedCode);
        },
        (error: unknown) => {
          app.log.error({ err: error }, 'error while shutting down');
          resolve(EXIT.failure);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // A closed terminal or SSH session: Node's default for it ends the process at once, without the save of the open
    // cases (--case-state-file) or an answer for the requests in flight.
    process.on('SIGHUP', onSignal);
    // Registered last: a service that failed before it listened calls this at once, and shuts down now.
    app.onFailure((error) => {
      completedCode = EXIT.failure;
      // A shutdown under way goes on; it now ends with the failure's exit code.
      if (!closing) begin({ failure: error.message });
    });
  });
}

/**
 * The inference worker is still in a run: the one it was taken for stuck in, or one a shutdown that timed out left. An
 * exit would wait for the thread, for ever if it is stuck (Node joins every worker thread first), and ending the thread
 * aborts the process when the run returns. Only a signal ends
 * the process then: abort() ends it as a crash, a container's PID 1 too (the kernel drops the signals PID 1 sends
 * itself, SIGKILL included; abort() then faults, SIGSEGV), and its core file, where the limits allow one, shows where
 * ONNX Runtime is stuck.
 */
async function abortOverWorkerRun(app: App, why: string): Promise<never> {
  // The lines pino still holds get main's pause before an exit (it writes asynchronously, and an abort runs no exit
  // handler to flush it); this one, the why of the abort, is written synchronously after them: behind the pause alone
  // it was lost once on a loaded machine.
  await new Promise((resolve) => setTimeout(resolve, 50));
  // As pino would: at --log-level error or below.
  if ((LEVELS[app.log.level] ?? Number.POSITIVE_INFINITY) <= ERROR) {
    try {
      writeSync(1, jsonLine(ERROR, why, {}));
    } catch {
      // stdout gone or full: the exit status (SIGABRT) says it.
    }
  }
  process.abort();
}

const API_FLAGS = { host: '--host / PETRASCORE_HOST', port: '--port / PETRASCORE_PORT' };
const ADMIN_FLAGS = { host: '--admin-host / PETRASCORE_ADMIN_HOST', port: '--admin-port / PETRASCORE_ADMIN_PORT' };

/** Why a listen failed, naming the settings to change, and the exit code: 2 for what a setting can fix. */
function listenFailure(error: unknown, host: string, port: number, flags: { host: string; port: string }): [message: string, exitCode: number] {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return [`cannot listen on ${host}:${port}: the port is in use (${flags.port})`, EXIT.usage];
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return [`cannot listen on ${host}: no such local address (${flags.host})`, EXIT.usage];
  if (code === 'EACCES') return [`cannot listen on ${host}:${port}: permission denied (ports below 1024 need privileges; ${flags.port})`, EXIT.usage];
  return [`cannot listen on ${host}:${port}: ${(error as Error).message}`, EXIT.failure];
}

/** `petrascore serve`: resolves to the process exit code once the server has stopped (or failed to start). */
export async function serve(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    quietWhenStdoutCloses();
    process.stdout.write(`${serveUsage()}\n`);
    return EXIT.ok;
  }
  let config;
  try {
    config = parseServeArgs(argv, process.env);
  } catch (error) {
    // The mistake alone, and where the options are: the whole usage would bury it at the bottom of a container's log.
    if (error instanceof UsageError) return fail(`${error.message}\n${SEE_HELP}`, EXIT.usage);
    throw error;
  }
  warnOfUnknownVariables(process.env, config.logLevel);
  logUncaughtExceptions();
  // A large net takes seconds to load. A stop asked for meanwhile ends the process as soon as it can: as PID 1 in a
  // container, a signal without a handler is ignored, and `docker stop` would wait out its grace and kill. A session
  // being created in the inference worker is waited for: the process would abort under it.
  let stopping = false;
  const stopWhileStarting = (signal: NodeJS.Signals) => {
    // A second signal will not wait (a load that hangs); under a session being created that aborts the process.
    if (stopping) process.exit(EXIT.failure);
    stopping = true;
    const message = `petrascore: ${signal} while starting: exiting without serving`;
    process.stderr.write(`${message}\n`);
    // Also on stdout as a JSON line, as fail() does, at info: a stop asked for is no failure. The process exits
    // before main's pause for pino to flush, so that write is waited for (a pipe takes stdout asynchronously).
    const written = new Promise<void>((resolve) => process.stdout.write(jsonLine(INFO, message, { signal, exit_code: EXIT.ok }), () => resolve()));
    void Promise.all([written, workerLoadsSettled()]).then(() => process.exit(EXIT.ok));
  };
  process.on('SIGTERM', stopWhileStarting);
  process.on('SIGINT', stopWhileStarting);
  process.on('SIGHUP', stopWhileStarting);
  let app: App;
  let drained: Promise<number>;
  try {
    try {
      app = await buildApp(config, { level: config.logLevel });
      await app.ready();
    } catch (error) {
      // One line, whatever the underlying library put into its message.
      if (error instanceof BundleError) return fail(`cannot serve bundle: ${error.message.replace(/\s*[\r\n]+\s*/g, ' ')}`, EXIT.usage);
      if (error instanceof CaseStateFileError) {
        if (error.unwritable) return fail(`cannot keep the open cases (--case-state-file): ${error.message}; give a directory that exists and that this user can write to (a mounted volume)`, EXIT.usage);
        return fail(`cannot restore the open cases (--case-state-file): ${error.message}; move the file away to start without them`, EXIT.usage);
      }
      throw error;
    }
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (error) {
      await app.close();
      return fail(...listenFailure(error, config.host, config.port, API_FLAGS));
    }
    if (config.adminPort !== 0) {
      const host = config.adminHost === '' ? config.host : config.adminHost;
      try {
        await app.adminListener.listen({ host, port: config.adminPort });
      } catch (error) {
        await app.close();
        return fail(...listenFailure(error, host, config.adminPort, ADMIN_FLAGS));
      }
    }
    app.startedServing();
    // Before the start's handlers go: a signal that came while the loop was busy starting (warming up, listening) is
    // still pending in the signal handle, and removing a signal's last listener closes its handle, losing it. The
    // serving process would then ignore the stop, and an orchestrator wait out its grace to kill it.
    drained = drainOnSignals(app, config.shutdownTimeoutMs, config.drainDelayMs);
  } finally {
    process.off('SIGTERM', stopWhileStarting);
    process.off('SIGINT', stopWhileStarting);
    process.off('SIGHUP', stopWhileStarting);
  }
  const code = await drained;
  // Already done by the app's close, unless the shutdown timed out (or a second signal cut it short) before that. Open
  // cases that could not be saved are lost: the exit says so to whatever watches it. Alerts not delivered are lost
  // too, and said so.
  const saved = app.saveOpenCases();
  app.live.webhooks?.stop();
  if (workerStuck()) await abortOverWorkerRun(app, 'the inference worker thread is still in its stuck run, and an exit would wait for it: aborting (SIGABRT)');
  // The shutdown timed out (or a second signal cut it short) during a run not yet taken for stuck: the exit would wait
  // for it, up to --inference-timeout or for ever, where the README promises an exit at once.
  if (workerBusy()) await abortOverWorkerRun(app, 'the inference worker thread is still in a run, and an exit would wait for it: aborting (SIGABRT)');
  return saved ? code : EXIT.failure;
}
