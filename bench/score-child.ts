/**
 * One measured run, in a process of its own so its peak RSS is its own: `score` runs the real `petrascore score`
 * command (report to /dev/null); `parse` only reads the log, the baseline the scoring overhead is measured against.
 */
import { score } from '../src/cli/score.js';
import { readLog } from '../src/logs/index.js';

const [mode, model, log, batchSize, sorted] = process.argv.slice(2) as [string, string, string, string, string];
const started = performance.now();
let traces = 0;
if (mode === 'parse') {
  for await (const _ of readLog(log, { sorted: sorted === 'sorted' })) traces++;
} else {
  const args = [model, '--traces', log, '-o', '/dev/null', '--batch-size', batchSize];
  if (sorted === 'sorted') args.push('--sorted');
  const code = await score(args);
  if (code !== 0) process.exit(code);
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ seconds, traces, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
