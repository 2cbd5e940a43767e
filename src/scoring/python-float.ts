import { pythonStrRepr } from './python-repr.js';

const DIGITS = String.raw`\d(?:_?\d)*`;
const DECIMAL = new RegExp(
  String.raw`^[+-]?(?:${DIGITS}(?:\.(?:${DIGITS})?)?|\.${DIGITS})(?:[eE][+-]?${DIGITS})?$`,
);
const SPECIAL = /^([+-]?)(nan|inf|infinity)$/i;
// What float() strips in Python: the characters str.isspace() takes but for \x1c-\x1f (measured with CPython 3). JS's
// \s differs in two: it lacks NEL (\x85) and has the byte-order mark (\ufeff), which Python refuses.
const PYTHON_SPACE = String.raw`[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]`;
const SURROUNDING_SPACE = new RegExp(`^${PYTHON_SPACE}+|${PYTHON_SPACE}+$`, 'g');

/** Printable ASCII other than the space: no character here is whitespace to Python or to JS's `\s`. */
function isVisibleAscii(code: number): boolean {
  return code > 0x20 && code < 0x7f;
}

const DECIMAL_DIGIT = /\p{Nd}/u;
const NON_ASCII_DIGITS = /[^\x00-\x7f]/;

/**
 * The ASCII digit of a Unicode decimal digit (category Nd, as Python's float() reads them: "１", "١"). Unicode
 * lays every Nd digit out in runs of ten from its zero, runs that may adjoin (the mathematical digits), so the
 * value is the distance from the start of the whole run, modulo ten.
 */
function asciiDigit(char: string): string {
  let start = char.codePointAt(0)!;
  while (start > 0 && DECIMAL_DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return String((char.codePointAt(0)! - start) % 10);
}

/**
 * Python's `float(str)` as PETRA applies it to trace attributes: surrounding whitespace allowed, `_` between digits,
 * exponents, and `nan` / `inf` / `infinity` in any case with an optional sign. Returns undefined where Python raises
 * ValueError (`""`, `"abc"`, `"0x10"`, `"1,5"`, `"True"`).
 */
export function parsePythonFloat(text: string): number | undefined {
  // A streamed attribute is parsed on every scored event; most are plain numerals with nothing to trim or strip, and
  // then no new string is made.
  const plain = isVisibleAscii(text.charCodeAt(0)) && isVisibleAscii(text.charCodeAt(text.length - 1));
  const s = plain ? text : text.replace(SURROUNDING_SPACE, '');
  if (DECIMAL.test(s)) return decimal(s);
  // Only a numeral that fails as ASCII is looked at again for other scripts' digits: no cost on the usual path.
  if (NON_ASCII_DIGITS.test(s)) {
    const ascii = s.replace(/\p{Nd}/gu, (digit) => (digit < '\x80' ? digit : asciiDigit(digit)));
    if (DECIMAL.test(ascii)) return decimal(ascii);
  }
  const special = SPECIAL.exec(s);
  if (special === null) return undefined;
  if (special[2]!.toLowerCase() === 'nan') return Number.NaN;
  return special[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
}

/** A numeral DECIMAL accepts, underscores between digits allowed. */
function decimal(numeral: string): number {
  return Number(numeral.includes('_') ? numeral.replaceAll('_', '') : numeral);
}

/** A value as it may arrive in JSON attributes (any JSON value); Python would see it through `str()`. */
export type AttributeValue = unknown;

/**
 * `float(str(value))`: numbers pass through, numeric strings are parsed; booleans, null, objects and lists become
 * "True", "None", "{'value': 0.9}" and are not numeric.
 */
export function attributeToFloat(value: AttributeValue): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return parsePythonFloat(value);
  return undefined;
}

/** Longest text `pythonStr` builds for an object or list: it is quoted in messages and lanes, never parsed. */
export const MAX_STRUCTURED_CHARS = 200;

/**
 * Python's `str()` of a JSON value, for reporting attributes the way PETRA would have seen them. An object or list is
 * cut at MAX_STRUCTURED_CHARS with "…": a body may nest thousands deep, and a whole repr would overflow the stack.
 */
export function pythonStr(value: AttributeValue): string {
  if (typeof value === 'string') return value;
  const out = { text: '' };
  appendRepr(value, out);
  return out.text.length > MAX_STRUCTURED_CHARS ? `${out.text.slice(0, MAX_STRUCTURED_CHARS - 1)}…` : out.text;
}

/** Appends Python's repr of `value` to `out.text`, stopping once it is longer than MAX_STRUCTURED_CHARS. */
function appendRepr(value: unknown, out: { text: string }): void {
  if (out.text.length > MAX_STRUCTURED_CHARS) return;
  if (value === null || value === undefined) out.text += 'None';
  else if (typeof value === 'boolean') out.text += value ? 'True' : 'False';
  else if (typeof value === 'string') out.text += pythonStrRepr(value.length > MAX_STRUCTURED_CHARS ? value.slice(0, MAX_STRUCTURED_CHARS) : value);
  else if (Array.isArray(value)) {
    out.text += '[';
    for (let i = 0; i < value.length && out.text.length <= MAX_STRUCTURED_CHARS; i++) {
      if (i > 0) out.text += ', ';
      appendRepr(value[i], out);
    }
    out.text += ']';
  } else if (typeof value === 'object') {
    out.text += '{';
    let first = true;
    for (const key in value) {
      if (out.text.length > MAX_STRUCTURED_CHARS) break;
      if (!Object.hasOwn(value, key)) continue;
      if (!first) out.text += ', ';
      first = false;
      out.text += `${pythonStrRepr(key.length > MAX_STRUCTURED_CHARS ? key.slice(0, MAX_STRUCTURED_CHARS) : key)}: `;
      appendRepr((value as Record<string, unknown>)[key], out);
    }
    out.text += '}';
  } else out.text += String(value);
}
