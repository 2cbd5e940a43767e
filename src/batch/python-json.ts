/**
 * `json.dumps(value, indent=…, sort_keys=True)` as Python writes it, so petrascore's batch report is byte-for-byte the
 * document petra-score prints: Python float repr (`1e-05`, `0.5`, `3.0`), ASCII-only strings, sorted keys.
 */
import { compareCodePoints } from '../scoring/net.js';

/** An integer as Python holds it (`0`, not `0.0`); plain JS numbers are written as Python floats. */
export class PyInt {
  constructor(readonly value: number) {}
}

export type PyJson = null | boolean | number | PyInt | string | PyJson[] | { [key: string]: PyJson };

/** Python's `repr(float)`: the shortest round-trip digits (which JS computes too), laid out Python's way. */
export function pythonFloatRepr(x: number): string {
  // Between 1e-4 and 1e16 both languages print the shortest digits without an exponent; Python adds ".0" to integers.
  const magnitude = Math.abs(x);
  if (magnitude >= 1e-4 && magnitude < 1e16) {
    const text = String(x);
    return Number.isInteger(x) ? `${text}.0` : text;
  }
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, exponentText] = x.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exponent < -4 || exponent >= 16) {
    const rest = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const e = Math.abs(exponent).toString().padStart(2, '0');
    return `${sign}${digits[0]}${rest}e${exponent < 0 ? '-' : '+'}${e}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const integer = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return `${sign}${integer}.${fraction === '' ? '0' : fraction}`;
}

// Printable ASCII without quote or backslash is written as is; anything else goes through the escaper.
const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

export function pythonString(s: string): string {
  if (PLAIN_ASCII.test(s)) return `"${s}"`;
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (code < 0x20 || (code >= 0x7f && code <= 0xffff)) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else if (code > 0xffff) {
      const v = code - 0x10000;
      out += `\\u${(0xd800 + (v >> 10)).toString(16)}\\u${(0xdc00 + (v & 0x3ff)).toString(16)}`;
    } else out += ch;
  }
  return `${out}"`;
}


const SURROGATE = /[\ud800-\udfff]/;

/** Python orders keys by code point; JS's default sort (UTF-16 units) agrees unless a key holds a surrogate pair. */
function sortKeys(keys: string[]): string[] {
  return keys.some((k) => SURROGATE.test(k)) ? keys.sort(compareCodePoints) : keys.sort();
}

export function dumpsPython(value: PyJson, indent?: number, level = 0): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return pythonFloatRepr(value);
  if (value instanceof PyInt) return String(value.value);
  if (typeof value === 'string') return pythonString(value);
  const pad = indent === undefined ? '' : `\n${' '.repeat(indent * (level + 1))}`;
  const close = indent === undefined ? '' : `\n${' '.repeat(indent * level)}`;
  const separator = indent === undefined ? ', ' : ',';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${value.map((v) => pad + dumpsPython(v, indent, level + 1)).join(separator)}${close}]`;
  }
  const keys = sortKeys(Object.keys(value));
  if (keys.length === 0) return '{}';
  return `{${keys.map((k) => `${pad}${pythonString(k)}: ${dumpsPython(value[k]!, indent, level + 1)}`).join(separator)}${close}}`;
}
