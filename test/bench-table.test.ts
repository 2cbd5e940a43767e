import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type BenchResult, CEILING, checkTargets, markdownTable, markdownTargets, type ResultRow } from '../bench/targets.js';
import { ROOT } from './helpers/fixtures.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

function row(scenario: string, target: string, connections: number, figures: Partial<ResultRow> = {}): ResultRow {
  return { scenario, target, connections, requestsPerSecond: 1000, p50: 1, p99: 2, non2xx: 0, errors: 0, peakRssBytes: 2 ** 27, serverCpuUs: 30, clientCpuUs: 25, ...figures };
}

describe('benchmark results in the README', () => {
  it('the serving table and the target list are the ones `npm run bench:table` prints from the result the README names', () => {
    const named = /`(bench\/results\/http-[^`]+\.json)`/.exec(README);
    expect(named, 'the README names the result its table comes from').not.toBeNull();
    const result = JSON.parse(readFileSync(join(ROOT, named![1]!), 'utf8')) as BenchResult;
    expect(README).toContain(markdownTable(result));
    expect(README).toContain(markdownTargets(result.rows));
  });

  it('a ratio target is met at its floor and not below it', () => {
    const at = (ratio: number) => checkTargets([row('POST /anomaly', 'default', 128, { ceilingRatio: ratio })])[0]!;
    expect(at(0.8).met).toBe(true);
    expect(at(0.7999).met).toBe(false);
    expect(at(0.7999).reading).toBe('80%');
  });

  it('p99 needs both bundles below 5 ms, and a target the run did not measure is neither met nor missed', () => {
    const p99 = (a: number, b: number) => checkTargets([row('POST /anomaly', 'default', 16, { p99: a }), row('POST /anomaly', 'scale_200', 16, { p99: b })])[3]!;
    expect(p99(2, 4)).toMatchObject({ met: true, reading: '2 ms / 4 ms' });
    expect(p99(2, 5).met).toBe(false);
    const alone = checkTargets([row('POST /anomaly', 'default', 16)]);
    expect(alone.map((c) => c.met)).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it('the table puts one ceiling line per bundle before its scenarios', () => {
    const table = markdownTable({
      date: '2026-01-01T00:00:00.000Z',
      cpus: 2,
      node: 'v24.0.0',
      durationSeconds: 5,
      runs: 1,
      rows: [row(CEILING, 'default', 16, { requestsPerSecond: 40_000 }), row(CEILING, 'default', 128, { requestsPerSecond: 41_000 }), row('POST /anomaly', 'default', 128, { requestsPerSecond: 33_000, ceilingRatio: 0.81 })],
    }).split('\n');
    expect(table[2]).toBe('| ceiling | default | 16 / 128 | 40,000 / 41,000 | 1 / 1 | 2 / 2 | 128 MB | | 30 + 25 / 30 + 25 |');
    expect(table[3]).toBe('| `POST /anomaly` | default | 128 | 33,000 | 1 | 2 | 128 MB | 81% | 30 + 25 |');
  });
});
