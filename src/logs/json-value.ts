/**
 * A parsed JSON value that keeps what Python's `json` + `str()` can observe
 * and JSON.parse loses: whether a number was written as an integer or a
 * float (`1000` -> "1000" but `1e3` -> "1000.0"), integer digits beyond 2^53,
 * and where a value starts (for error messages).
 */
export type JsonValue = null | boolean | string | JsonNumber | JsonArray | JsonObject;

export class JsonNumber {
  constructor(readonly literal: string) {}

  /** Python's json decodes a literal with '.', 'e' or 'E' as float, anything else as int. */
  get isFloat(): boolean {
    return /[.eE]/.test(this.literal) || !/\d/.test(this.literal);
  }
}

export class JsonArray {
  constructor(
    readonly items: JsonValue[],
    readonly offset: number,
    readonly itemOffsets: number[],
  ) {}
}

export class JsonObject {
  /** A Map because, like a Python dict, a repeated key keeps its first position and its last value. */
  constructor(
    readonly entries: Map<string, JsonValue>,
    readonly offset: number,
    readonly valueOffsets: Map<string, number>,
  ) {}
}

export function jsonTypeName(value: JsonValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'string') return 'a string';
  if (value instanceof JsonNumber) return 'a number';
  if (value instanceof JsonArray) return 'an array';
  return 'an object';
}
