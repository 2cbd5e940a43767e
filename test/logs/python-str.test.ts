import { describe, expect, it } from 'vitest';
import { JsonArray, JsonNumber, JsonObject } from '../../src/logs/json-value.js';
import { pythonStr } from '../../src/logs/python-str.js';
import { pythonFloatRepr } from '../../src/scoring/python-repr.js';

describe('pythonFloatRepr', () => {
  it.each([
    [1000, '1000.0'],
    [0.5, '0.5'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1e-4, '0.0001'],
    [1e-5, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [1e15, '1000000000000000.0'],
    [1234567890123456, '1234567890123456.0'],
    [1e16, '1e+16'],
    [1.2345678901234568e17, '1.2345678901234568e+17'],
    [-2.5, '-2.5'],
    [1e300, '1e+300'],
    [5e-324, '5e-324'],
    [-0, '-0.0'],
    [Infinity, 'inf'],
    [Number.NaN, 'nan'],
  ])('%s -> %s', (value, expected) => {
    expect(pythonFloatRepr(value)).toBe(expected);
  });
});

describe('pythonStr', () => {
  it('matches str() of json.loads values', () => {
    expect(pythonStr(new JsonNumber('1000'))).toBe('1000');
    expect(pythonStr(new JsonNumber('-0'))).toBe('0');
    expect(pythonStr(new JsonNumber('1E3'))).toBe('1000.0');
    expect(pythonStr(new JsonNumber('1e400'))).toBe('inf');
    expect(pythonStr(new JsonNumber('9007199254740993'))).toBe('9007199254740993');
    expect(pythonStr('plain')).toBe('plain');
    expect(pythonStr(null)).toBe('None');
    expect(pythonStr(true)).toBe('True');
    const nested = new JsonObject(
      new Map<string, JsonArray | string>([
        ['a', new JsonArray(['x\ny', 'tab\t', 'q"\'', '\u0001', '\u00e9', '\u00a0'], 0, [])],
        ['b', 'back\\slash'],
      ]),
      0,
      new Map(),
    );
    expect(pythonStr(nested)).toBe(`{'a': ['x\\ny', 'tab\\t', 'q"\\'', '\\x01', 'é', '\\xa0'], 'b': 'back\\\\slash'}`);
    expect(pythonStr(new JsonArray([], 0, []))).toBe('[]');
  });
});
