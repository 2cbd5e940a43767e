/**
 * One load run, in a process of its own: the load generator's heap and pauses then belong to this run only (driven
 * from the benchmark's own process, each scenario's client garbage and collections could land in the next scenario's
 * latencies). After a one-second warm-up, sends the requests listed in the file, in turn, with autocannon; prints the
 * result's figures as JSON.
 *
 * Arguments: URL REQUESTS.json CONNECTIONS DURATION_S, where REQUESTS.json is `[{ "path": "/…", "body": "…" }, …]`.
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
}

const [url, file, connections, duration] = process.argv.slice(2) as [string, string, string, string];
const requests = JSON.parse(readFileSync(file, 'utf8')) as LoadRequest[];
let next = 0;
// The warm-up option is autocannon's own (init.js) but missing from @types/autocannon.
const options: autocannon.Options & { warmup: { connections: number; duration: number } } = {
  url,
  connections: Number(connections),
  pipelining: 1,
  duration: Number(duration),
  // The fresh client's code and the server both warm up first; only the run after it is measured.
  warmup: { connections: Number(connections), duration: 1 },
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
const result = await autocannon(options);
const figures: LoadFigures = {
  requestsPerSecond: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  non2xx: result.non2xx,
  errors: result.errors + result.timeouts,
};
process.stdout.write(`${JSON.stringify(figures)}\n`);
