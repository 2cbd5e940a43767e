import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { netFromSidecar } from '../../src/bundle/net-from-sidecar.js';
import type { Sidecar } from '../../src/bundle/sidecar-schema.js';
import { SpecResolutionError } from '../../src/scoring/input-errors.js';
import { rowFromAttributes } from '../../src/scoring/inputs.js';
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

  it('a spec entry for a place that is no ONNX input is a warning that says its attribute is still read, as PETRA reads it', () => {
    const edited = sidecar();
    edited.input_marking_spec = { ...edited.input_marking_spec, p_zzz: { attribute: 'x' }, p_yyy: { constant: 2 } };
    const { net, warnings } = netFromSidecar(edited);
    expect(warnings).toEqual([
      "input_marking_spec.p_zzz names place 'p_zzz', which is no ONNX input of the marking channel: its value does not reach the model, but as in PETRA a trace scored through the specs must still carry attribute 'x' as a number",
      "input_marking_spec.p_yyy names place 'p_yyy', which is no ONNX input of the marking channel: its value does not reach the model",
    ]);
    expect(() => rowFromAttributes(net, { risk_score: '0.5' })).toThrow(SpecResolutionError);
    expect(Array.from(rowFromAttributes(net, { risk_score: '0.5', x: '7' }))).toEqual([0.5]);
  });
});

