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
