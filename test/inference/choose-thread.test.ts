import { describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/bundle/load-bundle.js';
import { chooseThread, singleRowRunMs, WORKER_FROM_MS } from '../../src/inference/choose-thread.js';
import { modelPath } from '../helpers/fixtures.js';

describe('--inference-thread auto', () => {
  it('an explicit setting wins; auto sends models whose single-row run reaches the threshold to a worker', () => {
    expect(chooseThread('main', 50)).toBe('main');
    expect(chooseThread('worker', 0.001)).toBe('worker');
    expect(chooseThread('auto', WORKER_FROM_MS / 10)).toBe('main');
    expect(chooseThread('auto', WORKER_FROM_MS)).toBe('worker');
  });

  it('measures a real single-row run through the session', async () => {
    const bundle = await loadBundle(modelPath('onnx_deployment'));
    try {
      const ms = await singleRowRunMs(bundle.runner, bundle.net, 5);
      expect(ms).toBeGreaterThan(0);
      expect(Number.isFinite(ms)).toBe(true);
    } finally {
      await bundle.runner.close();
    }
  });
});
