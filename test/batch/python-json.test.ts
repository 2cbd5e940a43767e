import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dumpsFloat, dumpsPython, PyInt, type PyJson } from '../../src/batch/python-json.js';
import { pythonStrRepr } from '../../src/scoring/python-repr.js';
import { FIXTURES } from '../helpers/fixtures.js';

/** Re-type a parsed petra-score document: `trace_index` is Python's only integer there. */
function retype(value: unknown, key?: string): PyJson {
  if (Array.isArray(value)) return value.map((v) => retype(v));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, retype(v, k)]));
  if (key === 'trace_index') return new PyInt(value as number);
  return value as PyJson;
}

describe("Python's json.dumps, as petra-score writes its report", () => {
  it.each([
    [1e-5, '1e-05'],
    [0.5, '0.5'],
    [3, '3.0'],
    [5.956299719400704e-5, '5.956299719400704e-05'],
    [0.0001, '0.0001'],
    [1e16, '1e+16'],
    [123456789012345.6, '123456789012345.6'],
    [-2.5e-7, '-2.5e-07'],
    [0, '0.0'],
    [Number.NaN, 'NaN'],
    [-Infinity, '-Infinity'],
  ])('json.dumps(%s) is %s', (x, repr) => {
    expect(dumpsFloat(x)).toBe(repr);
  });

  it('reproduces every petra-score document in the fixtures byte for byte', () => {
    let documents = 0;
    for (const bundle of ['onnx_deployment', 'credit_approval_coloured', 'incident_management', 'compliance_audit', 'cost_ranked_refactoring']) {
      for (const format of ['csv', 'xes', 'json']) {
        const text = readFileSync(join(FIXTURES, bundle, `score_${format}_expected.json`), 'utf8');
        expect(`${dumpsPython(retype(JSON.parse(text)), 2)}\n`).toBe(text);
        documents++;
      }
    }
    expect(documents).toBe(15);
  });

  it('escapes non-ASCII as Python does with ensure_ascii', () => {
    expect(dumpsPython({ b: 'é😀', a: [new PyInt(1), 2] })).toBe('{"a": [1, 2.0], "b": "\\u00e9\\ud83d\\ude00"}');
  });
});

describe("Python's repr(str), as PETRA's messages quote a client's string", () => {
  it.each([
    ['é\x01', "'é\\x01'"],
    ['\ud800', "'\\ud800'"],
    ['a\u2028b', "'a\\u2028b'"],
    ["it's", `"it's"`],
    [`both ' and "`, `'both \\' and "'`],
    ['x\u00a0y', "'x\\xa0y'"],
    ['tab\t back\\slash\n', "'tab\\t back\\\\slash\\n'"],
    ['\u{e0001}', "'\\U000e0001'"],
    ['\u200b', "'\\u200b'"],
    ['é日本 😀', "'é日本 😀'"],
    ['\x7f\x85', "'\\x7f\\x85'"],
  ])('repr(%j) is %s', (text, expected) => {
    expect(pythonStrRepr(text)).toBe(expected);
  });
});
