/**
 * One load run, in a process of its own: the load generator's heap and pauses then belong to this run only (driven
 * from the benchmark's own process, each scenario's client garbage and collections could land in the next scenario's
 * latencies). After a one-second warm-up, sends the requests listed in the file, in turn, with autocannon; prints the
 * result's figures as JSON.
 *
 * Arguments: URL REQUESTS.json CONNECTIONS DURATION_S [SERVER_PID], where REQUESTS.json is
 * `[{ "path": "/…", "body": "…" }, …]`. With SERVER_PID it also reports the CPU time the server process (all its
 * threads) and this process spent over the measured run: on a machine whose speed drifts, CPU time per request moves
 * less than requests per second.
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';

export interface LoadRequest {
  path: string;
  body: string;
}

export interface LoadFigures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Requests answered in the measured run. */
  requests: number;
  /** CPU time of this load generator over the measured run, in milliseconds. */
  clientCpuMs: number;
  /** CPU time of the server process over the measured run, in milliseconds (when its pid was given). */
  serverCpuMs?: number;
}

/** user + system time of a process, all threads, in milliseconds (/proc/PID/stat counts in USER_HZ, 100 on Linux). */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), counted from field 3: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const [url, file, connections, duration, serverPid] = process.argv.slice(2) as [string, string, string, string, string | undefined];
const requests = JSON.parse(readFileSync(file, 'utf8')) as LoadRequest[];
let next = 0;
const options: autocannon.Options = {
  url,
  connections: Number(connections),
  pipelining: 1,
  duration: Number(duration),
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  requests: [
    {
      setupRequest: (request) => {
        const { path, body } = requests[next++ % requests.length]!;
        return { ...request, path, body };
      },
    },
  ],
};
// The fresh client's code and the server both warm up first; only the run after it is measured. (autocannon's own
// `warmup` option does the same, two runs one after the other, but gives no moment between them to read CPU times.)
await autocannon({ ...options, duration: 1 });
const pid = serverPid === undefined ? undefined : Number(serverPid);
const serverBefore = pid === undefined ? 0 : processCpuMs(pid);
const clientBefore = process.cpuUsage();
const result = await autocannon(options);
const client = process.cpuUsage(clientBefore);
const figures: LoadFigures = {
  requestsPerSecond: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  non2xx: result.non2xx,
  errors: result.errors + result.timeouts,
  requests: result.requests.total,
  clientCpuMs: (client.user + client.system) / 1000,
  ...(pid === undefined ? {} : { serverCpuMs: processCpuMs(pid) - serverBefore }),
};
process.stdout.write(`${JSON.stringify(figures)}\n`);
