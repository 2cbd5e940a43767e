import { pythonFloatRepr, pythonStrRepr } from '../scoring/python-repr.js';
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
