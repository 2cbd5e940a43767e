import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // onnxruntime sessions and child processes: keep parallelism to the 2 cores the machine has.
    maxWorkers: 2,
    testTimeout: 30_000,
    // Hooks load bundles: scale_2000's session takes ~6 s alone, and past 30 s while other test files load theirs on
    // the same two cores (it failed that way once under load). The service itself allows 120 s (pluginTimeout).
    hookTimeout: 120_000,
  },
});
