/**
 * `json.dumps(value, indent=…, sort_keys=True)` as Python writes it, so petrascore's batch report is byte-for-byte the
 * document petra-score prints: Python float repr (`1e-05`, `0.5`, `3.0`), ASCII-only strings, sorted keys.
 */
import { compareCodePoints } from '../scoring/net.js';
import { pythonFloatRepr } from '../scoring/python-repr.js';

/** An integer as Python holds it (`0`, not `0.0`); plain JS numbers are written as Python floats. */
export class PyInt {
  constructor(readonly value: number) {}
}

export type PyJson = null | boolean | number | PyInt | string | PyJson[] | { [key: string]: PyJson };

/** A float as `json.dumps` writes it: Python's repr, but NaN and the infinities as JavaScript spells them. */
export function dumpsFloat(x: number): string {
  if (Number.isFinite(x)) return pythonFloatRepr(x);
  if (Number.isNaN(x)) return 'NaN';
  return x > 0 ? 'Infinity' : '-Infinity';
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
  if (typeof value === 'number') return dumpsFloat(value);
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
