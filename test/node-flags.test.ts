import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startScriptNodeFlags } from '../bench/node-flags.js';
import { ROOT } from './helpers/fixtures.js';

/** The image, `npm start` and the benchmark run node with the same flags: the benchmark measures what is shipped. */
describe('node flags', () => {
  const NODE_FLAGS = startScriptNodeFlags(ROOT);

  it('the Docker image runs node with the flags of npm start', () => {
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    expect(entrypoint, 'Dockerfile has an exec-form ENTRYPOINT').not.toBeNull();
    expect(JSON.parse(entrypoint![1]!)).toEqual(['node', ...NODE_FLAGS, '/app/dist/src/cli/main.js']);
    expect(NODE_FLAGS).toContain('--single-threaded-gc');
  });

  it('the Docker image runs the Node.js version CI tests on', () => {
    const images = [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^FROM node:(\S+?)-bookworm-slim/gm)].map((m) => m[1]);
    const ci = /^NODE_VERSION=(\S+)$/m.exec(readFileSync(join(ROOT, '.ci', 'run'), 'utf8'))?.[1];
    expect(ci).toMatch(/^\d+\.\d+\.\d+$/);
    expect(images).toEqual([ci, ci]);
  });

  it('this node accepts them', () => {
    // node exits 9 on an option it does not know.
    expect(() => execFileSync(process.execPath, [...NODE_FLAGS, '-e', '0'], { stdio: 'pipe' })).not.toThrow();
  });
});
