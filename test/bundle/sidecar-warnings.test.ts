import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { netFromSidecar } from '../../src/bundle/net-from-sidecar.js';
import type { Sidecar } from '../../src/bundle/sidecar-schema.js';
import { modelPath } from '../helpers/fixtures.js';

const sidecar = (): Sidecar => JSON.parse(readFileSync(`${modelPath('onnx_deployment')}.meta.json`, 'utf8')) as Sidecar;

describe('what a sidecar says that petrascore ignores, it says so', () => {
  it('PETRA’s own sidecar gives no warning', () => {
    expect(netFromSidecar(sidecar()).warnings).toEqual([]);
  });

  it('an input_defaults entry for an input the sidecar does not declare is a warning, and changes nothing', () => {
    const edited = sidecar();
    edited.input_defaults = { ...edited.input_defaults, marking__p_zzz: 3 };
    const { net, warnings } = netFromSidecar(edited);
    expect(warnings).toEqual(["input_defaults has an entry for 'marking__p_zzz', which is no ONNX input the sidecar declares; it is ignored"]);
    expect(net.inputs.map((i) => [i.name, i.defaultValue])).toEqual([['marking__p_application', 1]]);
  });
});
