import { JsonArray, JsonNumber, JsonObject, type JsonValue } from './json-value.js';

/** A JSON syntax error at a UTF-16 offset of the text. */
export class JsonSyntaxError extends Error {
  constructor(
    readonly problem: string,
    readonly offset: number,
  ) {
    super(problem);
    this.name = 'JsonSyntaxError';
  }
}

// Python's json.loads gives up with RecursionError long before this; the cap keeps our recursion off the stack limit.
const MAX_DEPTH = 1000;

const WHITESPACE = /[ \t\n\r]*/y;
const PLAIN_STRING_RUN = /[^"\\\u0000-\u001f]*/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * JSON as Python's `json.loads` accepts it (so also NaN, Infinity and
 * -Infinity), for a document whose top level is expected to be an array:
 * `topLevelItems` yields the array's elements one at a time so only one
 * element's tree is alive at once. A top level that is not an array is parsed
 * whole and reported through `onNotArray`, with where a second object begins when one follows the first.
 */
export class JsonParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  *topLevelItems(onNotArray: (value: JsonValue, offset: number, next?: number) => never): Generator<{ value: JsonValue; offset: number }> {
    this.skipWhitespace();
    const start = this.pos;
    if (this.text[this.pos] !== '[') {
      const value = this.parseValue(0);
      this.skipWhitespace();
      // Objects one after another: JSON Lines, which deserves its name rather than "unexpected {" on line 2.
      if (value instanceof JsonObject && this.text[this.pos] === '{') onNotArray(value, start, this.pos);
      this.expectEnd();
      onNotArray(value, start);
    }
    this.pos += 1;
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos += 1;
    } else {
      for (;;) {
        this.skipWhitespace();
        const offset = this.pos;
        yield { value: this.parseValue(1), offset };
        this.skipWhitespace();
        const next = this.text[this.pos];
        this.pos += 1;
        if (next === ']') break;
        if (next !== ',') this.fail(this.pos - 1, `${describe(next)} after an array element; expected ',' or ']'`);
      }
    }
    this.expectEnd();
  }

  private expectEnd(): void {
    this.skipWhitespace();
    if (this.pos < this.text.length) this.fail(this.pos, `${describe(this.text[this.pos])} after the end of the JSON document; expected nothing more`);
  }

  private parseValue(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail(this.pos, `nesting deeper than ${MAX_DEPTH} levels`);
    this.skipWhitespace();
    const start = this.pos;
    const char = this.text[this.pos];
    switch (char) {
      case '{':
        return this.parseObject(depth);
      case '[':
        return this.parseArray(depth);
      case '"':
        return this.parseString();
      default:
        break;
    }
    for (const [word, value] of LITERALS) {
      if (this.text.startsWith(word, start)) {
        this.pos += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = start;
    const number = NUMBER.exec(this.text);
    if (number) {
      this.pos = NUMBER.lastIndex;
      return new JsonNumber(number[0]);
    }
    return this.fail(start, `${describe(char)}; expected a JSON value`);
  }

  private parseObject(depth: number): JsonObject {
    const offset = this.pos;
    this.pos += 1;
    const entries = new Map<string, JsonValue>();
    const valueOffsets = new Map<string, number>();
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos += 1;
      return new JsonObject(entries, offset, valueOffsets);
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') this.fail(this.pos, `${describe(this.text[this.pos])}; expected a property name in double quotes`);
      const key = this.parseString();
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail(this.pos, `${describe(this.text[this.pos])} after a property name; expected ':'`);
      this.pos += 1;
      this.skipWhitespace();
      valueOffsets.set(key, this.pos);
      entries.set(key, this.parseValue(depth + 1));
      this.skipWhitespace();
      const next = this.text[this.pos];
      this.pos += 1;
      if (next === '}') return new JsonObject(entries, offset, valueOffsets);
      if (next !== ',') this.fail(this.pos - 1, `${describe(next)} after an object member; expected ',' or '}'`);
    }
  }

  private parseArray(depth: number): JsonArray {
    const offset = this.pos;
    this.pos += 1;
    const items: JsonValue[] = [];
    const itemOffsets: number[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos += 1;
      return new JsonArray(items, offset, itemOffsets);
    }
    for (;;) {
      this.skipWhitespace();
      itemOffsets.push(this.pos);
      items.push(this.parseValue(depth + 1));
      this.skipWhitespace();
      const next = this.text[this.pos];
      this.pos += 1;
      if (next === ']') return new JsonArray(items, offset, itemOffsets);
      if (next !== ',') this.fail(this.pos - 1, `${describe(next)} after an array element; expected ',' or ']'`);
    }
  }

  private parseString(): string {
    const start = this.pos;
    this.pos += 1;
    let result = '';
    for (;;) {
      PLAIN_STRING_RUN.lastIndex = this.pos;
      PLAIN_STRING_RUN.exec(this.text);
      result += this.text.slice(this.pos, PLAIN_STRING_RUN.lastIndex);
      this.pos = PLAIN_STRING_RUN.lastIndex;
      const char = this.text[this.pos];
      if (char === '"') {
        this.pos += 1;
        return result;
      }
      if (char === undefined) this.fail(start, 'unterminated string; expected a closing \'"\'');
      if (char !== '\\') this.fail(this.pos, 'control character inside a string; expected it escaped (e.g. \\n)');
      result += this.parseEscape();
    }
  }

  private parseEscape(): string {
    const escape = this.text[this.pos + 1];
    if (escape === 'u') {
      const hex = this.text.slice(this.pos + 2, this.pos + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail(this.pos, 'invalid \\u escape; expected 4 hexadecimal digits');
      this.pos += 6;
      return String.fromCharCode(Number.parseInt(hex, 16));
    }
    const replacement = escape === undefined ? undefined : ESCAPES[escape];
    if (replacement === undefined) this.fail(this.pos, `invalid escape ${JSON.stringify(`\\${escape ?? ''}`)} in a string`);
    this.pos += 2;
    return replacement;
  }

  private skipWhitespace(): void {
    WHITESPACE.lastIndex = this.pos;
    WHITESPACE.exec(this.text);
    this.pos = WHITESPACE.lastIndex;
  }

  private fail(offset: number, problem: string): never {
    throw new JsonSyntaxError(problem, offset);
  }
}

const LITERALS: ReadonlyArray<readonly [string, JsonValue]> = [
  ['true', true],
  ['false', false],
  ['null', null],
  ['NaN', new JsonNumber('NaN')],
  ['Infinity', new JsonNumber('Infinity')],
  ['-Infinity', new JsonNumber('-Infinity')],
];

function describe(char: string | undefined): string {
  if (char === undefined) return 'unexpected end of file';
  return `unexpected ${JSON.stringify(char)}`;
}
