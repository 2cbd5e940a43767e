import { emptyAttributes } from './attributes.js';
import { LogInputError } from './errors.js';
import { JsonParser, JsonSyntaxError } from './json-parser.js';
import { JsonArray, JsonNumber, JsonObject, jsonTypeName, type JsonValue } from './json-value.js';
import { pythonStr } from './python-str.js';
import { TextPositions } from './text-position.js';
import type { UnindexedItem } from './types.js';
import { decodeUtf8 } from './utf8.js';

/**
 * petra-score's `_json_to_traces`: a top-level list of
 * `{"attributes": {...}?, "events": [...]}`, an event being a name or
 * `{"name": ..., "attributes": {...}?}`, attribute values through Python `str()`.
 *
 * The whole file is held in memory as one string (a JSON document has no
 * record boundaries to stream on; good enough for now), but only one trace's
 * parsed tree exists at a time. The parser is our own rather than JSON.parse,
 * which cannot tell `1000` from `1e3` (Python prints "1000" and "1000.0"),
 * rounds integers beyond 2^53, rejects Python's NaN/Infinity and, on Node
 * 20, often reports no position for a syntax error.
 *
 * Where PETRA aborts the whole run with a traceback on one bad trace (event
 * without a name, event that is neither string nor object, entry that is not
 * an object, "attributes"/"events" of the wrong type), that trace becomes a
 * LogTraceError and reading goes on. Also different: an event object's
 * "name" must be a string (PETRA applies str() to any truthy name, so
 * {"name": 5} is event "5"); "events": null or a string is an error (PETRA
 * crashes on null and iterates a string's characters as event names); a
 * byte-order mark is accepted (PETRA's json.loads rejects it); traces before
 * a syntax error are yielded before the error is thrown.
 */
export async function* readJson(bytes: AsyncIterable<Buffer>, file: string, onParsed?: (share: number) => void): AsyncGenerator<UnindexedItem> {
  const chunks: string[] = [];
  let length = 0;
  for await (const chunk of decodeUtf8(bytes)) {
    length += chunk.length;
    if (length > MAX_TEXT_LENGTH) {
      throw new LogInputError(file, `the JSON log is too large to read as one document (over ${MAX_TEXT_LENGTH} characters); use CSV or XES for logs this size`);
    }
    chunks.push(chunk);
  }
  const text = chunks.join('');
  // An empty file is "no traces", reported by readLog, rather than a JSON syntax error.
  if (text.trim() === '') return;

  const positions = new TextPositions(text);
  const at: Locate = (offset) => positions.at(offset);
  const parser = new JsonParser(text);
  const notArray = (value: JsonValue, offset: number, next?: number): never => {
    if (next !== undefined) {
      const { line } = at(next);
      throw new LogInputError(
        file,
        `one JSON object follows another (a second begins on line ${line}): JSON Lines, which petra-score does not read; expected one array of traces: put the objects in [ and ], a comma after each but the last`,
        at(offset),
      );
    }
    throw new LogInputError(file, `the top-level JSON value is ${jsonTypeName(value)}; expected an array of traces`, at(offset));
  };
  try {
    for (const { value, offset } of parser.topLevelItems(notArray)) {
      onParsed?.(offset / text.length);
      yield toTrace(value, offset, at);
    }
    onParsed?.(1);
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw new LogInputError(file, `invalid JSON: ${error.problem}`, at(error.offset));
    throw error;
  }
}

// V8's limit on string length (2^29 - 24 UTF-16 units); joining more throws a bare RangeError.
const MAX_TEXT_LENGTH = 2 ** 29 - 24;

type Locate = (offset: number) => { line: number; column: number };

function toTrace(entry: JsonValue, offset: number, at: Locate): UnindexedItem {
  if (!(entry instanceof JsonObject)) {
    return { attributes: emptyAttributes(), error: `the trace entry ${where(offset, at)} is ${jsonTypeName(entry)}; expected an object` };
  }
  const attributes = emptyAttributes();
  const rawAttributes = entry.entries.get('attributes');
  if (rawAttributes instanceof JsonObject) {
    for (const [key, value] of rawAttributes.entries) attributes[key] = pythonStr(value);
  } else if (isPythonTruthy(rawAttributes)) {
    const problem = `is ${jsonTypeName(rawAttributes)}; expected an object`;
    return { attributes, error: `"attributes" ${where(entry.valueOffsets.get('attributes') ?? offset, at)} ${problem}` };
  }

  const rawEvents = entry.entries.get('events');
  if (rawEvents === undefined) return { attributes, events: [] };
  if (!(rawEvents instanceof JsonArray)) {
    const problem = `is ${jsonTypeName(rawEvents)}; expected an array`;
    return { attributes, error: `"events" ${where(entry.valueOffsets.get('events') ?? offset, at)} ${problem}` };
  }
  const events: string[] = [];
  for (const [i, event] of rawEvents.items.entries()) {
    const name = eventName(event);
    if (typeof name !== 'string') {
      return { attributes, error: `event ${i} ${where(rawEvents.itemOffsets[i] ?? rawEvents.offset, at)} ${name.problem}` };
    }
    events.push(name);
  }
  return { attributes, events };
}

function eventName(event: JsonValue): string | { problem: string } {
  // PETRA accepts any string event, even "", as a name.
  if (typeof event === 'string') return event;
  if (!(event instanceof JsonObject)) return { problem: `is ${jsonTypeName(event)}; expected a name or an object with a "name"` };
  const name = event.entries.get('name');
  if (name === undefined || name === null) return { problem: 'has no "name"' };
  if (typeof name !== 'string') return { problem: `has a "name" that is ${jsonTypeName(name)}; expected a string` };
  if (name === '') return { problem: 'has an empty "name"' };
  const attributes = event.entries.get('attributes');
  if (!(attributes instanceof JsonObject) && isPythonTruthy(attributes)) {
    return { problem: `has "attributes" that is ${jsonTypeName(attributes)}; expected an object` };
  }
  return name;
}

/** PETRA's `x or {}` treats the falsy values as "no attributes". */
function isPythonTruthy(value: JsonValue | undefined): boolean {
  if (value === undefined || value === null || value === false || value === '') return false;
  if (value instanceof JsonNumber) return value.literal === 'NaN' || Number(value.literal) !== 0;
  if (value instanceof JsonArray) return value.items.length > 0;
  if (value instanceof JsonObject) return value.entries.size > 0;
  return true;
}

function where(offset: number, at: Locate): string {
  const { line, column } = at(offset);
  return `at line ${line}, column ${column}`;
}
