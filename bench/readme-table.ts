/**
 * `npm run bench:table [-- FILE]`: a saved `npm run bench` result (the newest under bench/out/ by default) as the
 * README's markdown: a heading line with date, machine and Node, the table, and the work order's targets.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ROOT } from './harness.js';
import { type BenchResult, markdownTable, markdownTargets } from './targets.js';

function newestResult(): string {
  const folder = join(ROOT, 'bench', 'out');
  if (!existsSync(folder)) throw new Error(`no ${folder}: run \`npm run bench\` first, or name a result file`);
  // The names carry an ISO time, so their order is their age.
  const newest = readdirSync(folder, { withFileTypes: true })
    .map((entry) => entry.name)
    .filter((name) => /^http-.*\.json$/.test(name))
    .sort()
    .at(-1);
  if (newest === undefined) throw new Error(`no http-*.json under ${folder}: run \`npm run bench\` first`);
  return join(folder, newest);
}

const file = process.argv[2] ?? newestResult();
const result = JSON.parse(readFileSync(file, 'utf8')) as BenchResult;
console.log(`${result.date}, ${result.cpus} × ${result.cpu ?? 'cpu'}, Node ${result.node}, ${result.runs} round(s) of ${result.durationSeconds} s loads (${relative(ROOT, resolve(file))})\n`);
console.log(markdownTable(result));
console.log(`\n${markdownTargets(result.rows)}`);
