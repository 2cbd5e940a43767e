import { InvalidInputError, SpecResolutionError } from './input-errors.js';
import type { Net, SpecEntry, SpecSection } from './net.js';
import { attributeToFloat, parsePythonFloat, pythonStr, type AttributeValue } from './python-float.js';
import { quoteValue } from './quote-value.js';

/**
 * A number as a client may send it: a JSON number, a numeric string as Python's `float()` reads it, or a boolean, which
 * PETRA's pydantic models coerce to 1.0 / 0.0.
 */
export type NumericLike = number | string | boolean;

export interface RequestInputs {
  input_marking?: Record<string, NumericLike> | null | undefined;
  input_values?: Record<string, NumericLike> | null | undefined;
}

export interface ResolvedRow {
  row: Float32Array;
  /** JSON pointers of request keys that are no ONNX input; PETRA ignores them, and so do we, but we say so. */
  ignored: readonly string[];
}

/** Nothing ignored, the usual case: one shared empty list instead of one per request. */
const NONE_IGNORED: readonly string[] = Object.freeze([]);

/**
 * Whether the model can be fed `value`: its inputs are float32, where anything beyond ±3.4e38 becomes ±Infinity and
 * the activations NaN.
 */
export function fitsFloat32(value: number): boolean {
  return Number.isFinite(Math.fround(value));
}

/** An input's value as a number: a boolean as pydantic reads it (1.0 / 0.0), a string as Python's float() (else undefined). */
export function numericValue(value: NumericLike): number | undefined {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return typeof value === 'number' ? value : parsePythonFloat(value);
}

/** `value` as the model can be fed it, else an InvalidInputError at `path` saying why not. */
export function toFinite(value: NumericLike, path: string): number {
  // A boolean is always a fine number; answered first, the messages below quote only numbers and strings.
  if (typeof value === 'boolean') return value ? 1 : 0;
  const number = numericValue(value);
  if (number === undefined) throw new InvalidInputError(path, `must be a number, got ${quoteValue(value)}`);
  if (!Number.isFinite(number)) throw new InvalidInputError(path, `must be a finite number, got ${quoteValue(value)}`);
  if (!fitsFloat32(number)) throw new InvalidInputError(path, `must be within ±3.4e38 (the model's inputs are float32), got ${quoteValue(value)}`);
  return number;
}

function applyChannel(
  row: Float32Array,
  slots: ReadonlyMap<string, number>,
  supplied: Record<string, NumericLike>,
  field: string,
  ignored: string[] | undefined,
): string[] | undefined {
  for (const place in supplied) {
    const value = supplied[place]!;
    const number = typeof value === 'number' && fitsFloat32(value) ? value : toFinite(value, `/${field}/${escapePointer(place)}`);
    const slot = slots.get(place);
    if (slot === undefined) (ignored ??= []).push(`/${field}/${escapePointer(place)}`);
    else row[slot] = number;
  }
  return ignored;
}

/**
 * PETRA's REST semantics (1b): supplied inputs override, omitted ones take the sidecar's defaults, others are ignored.
 * Written into `row` when given (a batch's rows share one buffer), else into a new row.
 */
export function rowFromRequest(net: Net, request: RequestInputs, row?: Float32Array): ResolvedRow {
  if (row === undefined) row = net.defaultRow.slice();
  else row.set(net.defaultRow);
  let ignored: string[] | undefined;
  if (request.input_marking) ignored = applyChannel(row, net.markingSlot, request.input_marking, 'input_marking', ignored);
  if (request.input_values) ignored = applyChannel(row, net.valueSlot, request.input_values, 'input_values', ignored);
  return { row, ignored: ignored ?? NONE_IGNORED };
}

/**
 * `{"value": …, "type": …}`: how Camunda's REST API and others wrap a process variable. A streamed case keeps such a
 * value as its str() (CaseStore), which is told by its `'value': ` key.
 */
function typedValue(raw: AttributeValue): boolean {
  if (typeof raw === 'string') return raw.startsWith('{') && raw.includes("'value': ");
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.hasOwn(raw, 'value');
}

function resolveSection(row: Float32Array, entries: readonly SpecEntry[], attributes: Readonly<Record<string, AttributeValue>>, section: SpecSection): void {
  for (const entry of entries) {
    let value: number;
    if (entry.source.kind === 'constant') value = entry.source.value;
    else {
      const name = entry.source.attribute;
      const raw = Object.hasOwn(attributes, name) ? attributes[name] : undefined;
      if (raw === undefined) {
        throw new SpecResolutionError('missing_attribute', name, entry.place, section, `trace missing attribute '${name}' required by ${section} for place '${entry.place}'`);
      }
      const parsed = attributeToFloat(raw);
      if (parsed === undefined || !fitsFloat32(parsed)) {
        throw new SpecResolutionError(
          'non_numeric_attribute',
          name,
          entry.place,
          section,
          `attribute '${name}' = ${quoteValue(pythonStr(raw))} required by ${section} for place '${entry.place}' ${parsed !== undefined && Number.isFinite(parsed) ? "is beyond ±3.4e38 (the model's inputs are float32)" : 'is not a finite number'}${typedValue(raw) ? ' (a typed variable, as Camunda writes them? send its "value" alone)' : raw === null ? ' (JSON null, which PETRA reads as the text "None")' : ''}`,
        );
      }
      value = parsed;
    }
    if (entry.slot >= 0) row[entry.slot] = value;
  }
}

const BOTH_CHANNELS = Object.freeze({ marking: true, values: true });

/**
 * petra-score's marking (1c): the sidecar's specs applied to trace attributes; marking first, then values (the values
 * spec only when non-empty, which an empty entry list already means).
 */
export function rowFromAttributes(
  net: Net,
  attributes: Readonly<Record<string, AttributeValue>>,
  channels: { readonly marking: boolean; readonly values: boolean } = BOTH_CHANNELS,
  base?: Float32Array,
): Float32Array {
  const row = base ?? net.defaultRow.slice();
  if (channels.marking) resolveSection(row, net.markingSpec, attributes, 'input_marking');
  if (channels.values) resolveSection(row, net.valuesSpec, attributes, 'input_values');
  return row;
}

/** A key as one segment of a JSON Pointer (RFC 6901), as error paths name it. */
export function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
