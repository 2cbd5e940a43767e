import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function findPackageVersion(): string {
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(candidate) as { name?: string; version?: string };
      if (pkg.name === 'petrascore' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Not at this depth: the module runs from src/ under vitest and from dist/src/ when built.
    }
  }
  return '0.0.0';
}

export const PETRASCORE_VERSION = findPackageVersion();
export const ONNXRUNTIME_VERSION: string = (require('onnxruntime-node/package.json') as { version: string }).version;
