/**
 * Python's `repr(str)`: single quotes unless the text has ' but no "; backslash, the quote, \n, \r and \t escaped, and
 * every other character Python does not print (str.isprintable: control and format characters, lone surrogates,
 * private-use and unassigned code points, separators but the space) as \xhh, \uhhhh or \Uhhhhhhhh. PETRA's messages
 * quote client strings this way (and petra-score's report prints attribute values of JSON logs so); a raw control
 * character or lone surrogate in an answer also trips strict JSON readers.
 */
export function pythonStrRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  return quote + text.replace(/[\\'"\p{C}\p{Z}]/gu, (char) => escaped(char, quote)) + quote;
}

function escaped(char: string, quote: string): string {
  switch (char) {
    case '\\':
      return '\\\\';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    case ' ':
      return ' ';
    case "'":
    case '"':
      return char === quote ? `\\${char}` : char;
  }
  const code = char.codePointAt(0)!;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\U${code.toString(16).padStart(8, '0')}`;
}

/** Python's `repr(float)`: the shortest round-trip digits (which JS computes too), laid out Python's way. */
export function pythonFloatRepr(x: number): string {
  // Between 1e-4 and 1e16 both languages print the shortest digits without an exponent; Python adds ".0" to integers.
  const magnitude = Math.abs(x);
  if (magnitude >= 1e-4 && magnitude < 1e16) {
    const text = String(x);
    return Number.isInteger(x) ? `${text}.0` : text;
  }
  if (Number.isNaN(x)) return 'nan';
  if (x === Number.POSITIVE_INFINITY) return 'inf';
  if (x === Number.NEGATIVE_INFINITY) return '-inf';
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
