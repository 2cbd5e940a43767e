import { pythonStrRepr } from './python-repr.js';
/**
 * Python's `float(str)` as PETRA applies it to trace attributes: surrounding whitespace allowed, `_` between digits,
 * exponents, and `nan` / `inf` / `infinity` in any case with an optional sign. Returns undefined where Python raises
 * ValueError (`""`, `"abc"`, `"0x10"`, `"1,5"`, `"True"`).
 */
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

/** Python's `str()` of a JSON value, for reporting attributes the way PETRA would have seen them. */
export function pythonStr(value: AttributeValue): string {
  return typeof value === 'string' ? value : pythonReprOfJson(value);
}

function pythonReprOfJson(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'string') return pythonStrRepr(value);
  if (Array.isArray(value)) return `[${value.map(pythonReprOfJson).join(', ')}]`;
  if (typeof value === 'object') return `{${Object.entries(value).map(([key, item]) => `${pythonStrRepr(key)}: ${pythonReprOfJson(item)}`).join(', ')}}`;
  return String(value);
}
