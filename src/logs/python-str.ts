import { pythonStrRepr } from '../scoring/python-repr.js';
import { JsonArray, JsonNumber, JsonObject, type JsonValue } from './json-value.js';

/**
 * Python's `str()` of a value produced by `json.loads`, which is how PETRA
 * turns JSON attribute values into strings: 1000 -> "1000", 1e3 -> "1000.0",
 * true -> "True", null -> "None", [1, "a"] -> "[1, 'a']".
 */
export function pythonStr(value: JsonValue): string {
  return typeof value === 'string' ? value : pythonRepr(value);
}

export function pythonRepr(value: JsonValue): string {
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return pythonStrRepr(value);
  if (value instanceof JsonNumber) return reprNumber(value);
  if (value instanceof JsonArray) return `[${value.items.map(pythonRepr).join(', ')}]`;
  return reprDict(value);
}

function reprDict(value: JsonObject): string {
  const members = [...value.entries].map(([key, item]) => `${pythonStrRepr(key)}: ${pythonRepr(item)}`);
  return `{${members.join(', ')}}`;
}

function reprNumber(value: JsonNumber): string {
  if (!value.isFloat) {
    // Kept as written: Python ints are exact at any size; "-0" is the only literal Python prints differently.
    return value.literal === '-0' ? '0' : value.literal;
  }
  return pythonFloatRepr(Number(value.literal));
}

/** Python's `repr(float)`: shortest round-trip digits, exponent form when the exponent is < -4 or >= 16. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without an argument gives the same shortest round-trip digits as Python's repr.
  const [mantissa = '', exponentText = '0'] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);
  const pointPosition = exponent + 1;
  if (pointPosition > -4 && pointPosition <= 16) {
    if (pointPosition <= 0) return `${sign}0.${'0'.repeat(-pointPosition)}${digits}`;
    if (pointPosition >= digits.length) return `${sign}${digits}${'0'.repeat(pointPosition - digits.length)}.0`;
    return `${sign}${digits.slice(0, pointPosition)}.${digits.slice(pointPosition)}`;
  }
  const shortMantissa = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
  const exponentSign = exponent < 0 ? '-' : '+';
  return `${sign}${shortMantissa}e${exponentSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
}
