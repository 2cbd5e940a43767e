/**
 * The work order's serving targets (issue 5) read from one `npm run bench` result, and that result as the README's
 * markdown table: the benchmark prints both, and `npm run bench:table` prints them again from a saved JSON file, so the
 * README's figures are pasted, not retyped.
 */

/** What bench/http.ts writes per scenario, bundle and connection count (medians over the rounds). */
export interface ResultRow {
  scenario: string;
  /** The bundle. */
  target: string;
  connections: number;
  requestsPerSecond: number;
  itemsPerSecond?: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  peakRssBytes: number;
  /** CPU time per answered request: the server process's (all threads) and the load generator's, in microseconds. */
  serverCpuUs: number;
  clientCpuUs: number;
  ceilingRatio?: number;
  /** In the medians: the service's median req/s over the median of every ceiling load at its bundle and connections. */
  ratioOfMedians?: number;
  /**
   * In the medians: the CPU time per request of the ceiling (server + load generator) over the service's, the ratio
   * the two would reach if both filled the two cores. It drifts less than requests per second do.
   */
  cpuRatio?: number;
  /**
   * Streamed events only, a reading beside the targets': the median of the per-round ratios to a ceiling loaded with
   * the scenario's own requests (10,000 case paths, event bodies) and answering a body the size of the scenario's
   * answer. The ceiling of the targets takes /anomaly's requests for every scenario, and the load generator spends
   * more a request on the event requests, which only the service's side paid.
   */
  sameRequestsRatio?: number;
}

export interface BenchResult {
  date: string;
  cpus: number;
  cpu?: string;
  node: string;
  durationSeconds: number;
  runs: number;
  rows: ResultRow[];
}

export const CEILING = 'bare Fastify, fixed body (ceiling)';
/**
 * The ceiling loaded with a streamed-events scenario's own requests, answering its answer's size (sameRequestsRatio):
 * the start of the rows' scenario, followed by " of " and the scenario's.
 */
export const SAME_REQUESTS_CEILING = 'ceiling with the requests';

export interface TargetCheck {
  target: string;
  reading: string;
  /** undefined when the run did not measure it (a --quick run has no single connection, scale_200 may be missing). */
  met: boolean | undefined;
}

const percent = (ratio: number) => `${(100 * ratio).toFixed(0)}%`;
const whole = (n: number) => Math.round(n).toLocaleString('en-US');

/** The per-round ratio, then the ratio of the medians and the CPU ratio, as the README quotes them. */
function ratioReading(row: ResultRow): string {
  const others = [row.ratioOfMedians === undefined ? undefined : percent(row.ratioOfMedians), row.cpuRatio === undefined ? undefined : `CPU ${percent(row.cpuRatio)}`].filter((s) => s !== undefined);
  return `${percent(row.ceilingRatio!)}${others.length > 0 ? ` (${others.join(', ')})` : ''}`;
}

/** Each serving target of the work order against this result. Memory per case is `npm run bench:cases`'s. */
export function checkTargets(rows: readonly ResultRow[]): TargetCheck[] {
  const find = (scenario: string, bundle: string, connections: number) => rows.find((r) => r.scenario === scenario && r.target === bundle && r.connections === connections);
  const ratioTarget = (label: string, row: ResultRow | undefined, floor: number): TargetCheck =>
    row?.ceilingRatio === undefined ? { target: label, reading: 'not measured', met: undefined } : { target: label, reading: ratioReading(row), met: row.ceilingRatio >= floor };
  const p99s = ['default', 'scale_200'].map((bundle) => find('POST /anomaly', bundle, 16));
  const batch = find('POST /anomaly/batch (256 traces)', 'default', 16);
  return [
    ratioTarget('`/anomaly` default, 128 connections ≥ 80% of the ceiling', find('POST /anomaly', 'default', 128), 0.8),
    ratioTarget('scored streaming events, 128 connections ≥ 70%', find('POST /cases/:id/events scored', 'default', 128), 0.7),
    ratioTarget('`/anomaly` scale_200, 128 connections ≥ 50%', find('POST /anomaly', 'scale_200', 128), 0.5),
    p99s.some((r) => r === undefined)
      ? { target: 'p99 at 16 connections < 5 ms, default / scale_200', reading: 'not measured', met: undefined }
      : { target: 'p99 at 16 connections < 5 ms, default / scale_200', reading: p99s.map((r) => `${r!.p99} ms`).join(' / '), met: p99s.every((r) => r!.p99 < 5) },
    batch?.itemsPerSecond === undefined
      ? { target: '`/anomaly/batch` ≥ 300,000 traces/s', reading: 'not measured', met: undefined }
      : { target: '`/anomaly/batch` ≥ 300,000 traces/s', reading: whole(batch.itemsPerSecond), met: batch.itemsPerSecond >= 300_000 },
  ];
}

const SCENARIO_CELLS: Record<string, string> = {
  'POST /anomaly': '`POST /anomaly`',
  'POST /cases/:id/events unscored': '`POST /cases/{id}/events` unscored, 10,000 cases interleaved',
  'POST /cases/:id/events scored': '`POST /cases/{id}/events?score=true`',
  'POST /anomaly/batch (256 traces)': '`POST /anomaly/batch`, 256 traces',
  [`${SAME_REQUESTS_CEILING} of POST /cases/:id/events unscored`]: 'ceiling loaded with the unscored events\' requests',
  [`${SAME_REQUESTS_CEILING} of POST /cases/:id/events scored`]: 'ceiling loaded with the scored events\' requests',
};

/**
 * The README's table: one ceiling line per bundle (its loads at every connection count, slash-separated), then each
 * service scenario with its ratio readings and CPU time per request.
 */
export function markdownTable(result: BenchResult): string {
  const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;
  const cpu = (r: ResultRow) => `${r.serverCpuUs.toFixed(0)} + ${r.clientCpuUs.toFixed(0)}`;
  const lines = [
    '| scenario | bundle | conns | req/s | p50 ms | p99 ms | server peak RSS | of ceiling (ratio of medians, CPU) | CPU µs a request (server + load generator) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const bundle of [...new Set(result.rows.map((r) => r.target))]) {
    const ceilings = result.rows.filter((r) => r.target === bundle && r.scenario === CEILING);
    if (ceilings.length > 0) {
      const all = (cell: (r: ResultRow) => string) => ceilings.map(cell).join(' / ');
      lines.push(`| ceiling | ${bundle} | ${all((r) => String(r.connections))} | ${all((r) => whole(r.requestsPerSecond))} | ${all((r) => String(r.p50))} | ${all((r) => String(r.p99))} | ${mb(Math.max(...ceilings.map((r) => r.peakRssBytes)))} | | ${all(cpu)} |`);
    }
    for (const r of result.rows.filter((o) => o.target === bundle && o.scenario !== CEILING)) {
      const rate = r.itemsPerSecond === undefined ? whole(r.requestsPerSecond) : `${whole(r.requestsPerSecond)} (${whole(r.itemsPerSecond)} traces/s)`;
      lines.push(`| ${SCENARIO_CELLS[r.scenario] ?? r.scenario} | ${bundle} | ${r.connections} | ${rate} | ${r.p50} | ${r.p99} | ${mb(r.peakRssBytes)} | ${r.ceilingRatio === undefined ? '' : ratioReading(r)} | ${cpu(r)} |`);
    }
  }
  return lines.join('\n');
}

/** The targets as a markdown list, for the README beside the table. */
export function markdownTargets(rows: readonly ResultRow[]): string {
  return checkTargets(rows)
    .map((c) => `- ${c.target}: ${c.reading}${c.met === undefined ? '' : c.met ? ' — met' : ' — **not met**'}`)
    .join('\n');
}
