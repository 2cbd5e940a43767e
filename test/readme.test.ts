import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configurationTable, metricsTable } from '../src/docs-tables.js';
import { killAllClis, serveArgs, startServer, type RunningServer } from './helpers/cli.js';
import { DEFAULT_MODEL, ROOT } from './helpers/fixtures.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The curl commands of the README's shell blocks, in order, joined across `\` continuations, with their section. */
function curlExamples(): { command: string; section: string }[] {
  const examples: { command: string; section: string }[] = [];
  let section = '';
  let inBlock = false;
  let pending = '';
  for (const line of README.split('\n')) {
    if (line.startsWith('#') && !inBlock) section = line;
    if (line.startsWith('```')) {
      inBlock = !inBlock;
      continue;
    }
    if (!inBlock) continue;
    const text = pending + line.replace(/\s+#.*$/, '');
    if (text.endsWith('\\')) {
      pending = `${text.slice(0, -1)} `;
      continue;
    }
    pending = '';
    if (text.trimStart().startsWith('curl ')) examples.push({ command: text.trim(), section });
  }
  return examples;
}

function sh(command: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', command], { timeout: 20_000 }, (error, stdout) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout }));
  });
}

describe('README', () => {
  it('carries the configuration and metrics tables as the code defines them (npm run readme:tables)', async () => {
    expect(README).toContain(configurationTable());
    expect(README).toContain(await metricsTable());
  });

  describe('curl examples, run as written against the default model', () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startServer(serveArgs(DEFAULT_MODEL));
    });
    afterAll(killAllClis);

    it('every one succeeds; only the examples of the Errors section answer an error', async () => {
      const examples = curlExamples();
      expect(examples.length).toBeGreaterThan(20);
      for (const { command, section } of examples) {
        // -w appends the status, so an example that quietly answers 4xx fails here.
        const run = await sh(`${command.replaceAll('http://127.0.0.1:8000', server.url)} -w '\\n%{http_code}'`);
        // curl's 28 is --max-time ending a /live stream, which is how those examples stop.
        expect([0, 28], command).toContain(run.code);
        const status = Number(run.stdout.trim().split('\n').at(-1));
        if (section.includes('Errors')) expect(status, command).toBeGreaterThanOrEqual(400);
        else expect(status, `${command}\n${run.stdout}`).toBeLessThan(400);
      }
    });
  });
});
