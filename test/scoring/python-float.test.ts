import { describe, expect, it } from 'vitest';
import { parsePythonFloat } from '../../src/scoring/python-float.js';

// Expected values are what CPython's float(str) returns (undefined where it raises ValueError).
describe("parsePythonFloat reads attributes as Python's float() does", () => {
  it.each([
    ['0.765', 0.765],
    ['42', 42],
    ['+3', 3],
    ['-2.5', -2.5],
    ['.5', 0.5],
    ['5.', 5],
    ['1e3', 1000],
    ['1E-2', 0.01],
    ['1_000.5', 1000.5],
    ['1_0e1_0', 1e11],
    [' 1.5\n', 1.5],
    ['\t-7 ', -7],
    ['\u00a01.5', 1.5],
    ['2.25\u3000', 2.25],
    // NEL is white space to Python, not to JS's \s.
    ['1\u0085', 1],
    ['\u0085\u20282', 2],
    ['inf', Infinity],
    ['-Infinity', -Infinity],
    ['  INF ', Infinity],
    // Unicode decimal digits, which float() reads as their values.
    ['\uff11', 1],
    ['\u0661\u0662.\u0665', 12.5],
    ['\u{1d7cf}\u{1d7d0}', 12],
    ['\u{1d7d9}.\u{1d7dd}', 1.5],
    ['\u0663e\u0662', 300],
  ])('%j -> %s', (text, expected) => {
    expect(parsePythonFloat(text)).toBe(expected);
  });

  it('reads nan in any case', () => {
    expect(parsePythonFloat('NaN')).toBeNaN();
    expect(parsePythonFloat(' -nan')).toBeNaN();
  });

  it.each(['', ' ', 'abc', '0x10', '1,5', 'True', '1e', '1__0', '_1', '1_', '1._5', 'infinit', '--1', '1 2', '\u0661\u0662\u066b\u0665', '1\ufeff', '\ufeff1', '1\u001c'])('%j is not a number', (text) => {
    expect(parsePythonFloat(text)).toBeUndefined();
  });
});
