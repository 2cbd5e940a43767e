import type { Static } from '@sinclair/typebox';
import { compareCodePoints } from '../scoring/net.js';
import type { SchemaResponse } from '../schemas/service.js';

type ModelDescription = Static<typeof SchemaResponse>;

/**
 * GET /schema's document (and `inspect --json`'s) as JSON.stringify would write it with `space`, but with every map
 * keyed by a transition or place id in id order, by code point, as PETRA sorts its places and transitions and writes
 * the sidecar. A JavaScript object cannot keep that order: it lists integer-like keys ("10", "9") first, smallest
 * first; and sort() compares UTF-16 units, which puts an id past U+FFFF before one at U+FF61.
 */
export function modelJson(model: ModelDescription, space = 0): string {
  const byId = new Set<object>([model.transitions, model.initial_marking, model.input_marking_spec, model.input_values_spec]);
  return write(model, '', ' '.repeat(space), byId) ?? 'null';
}

/** JSON.stringify's layout for the JSON values a description holds (no toJSON, no replacer). */
function write(value: unknown, indent: string, step: string, byId: ReadonlySet<object>): string | undefined {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const inner = indent + step;
  const [open, separator, close] = step === '' ? ['', ',', ''] : [`\n${inner}`, `,\n${inner}`, `\n${indent}`];
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${open}${value.map((item) => write(item, inner, step, byId) ?? 'null').join(separator)}${close}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = byId.has(value) ? Object.keys(record).sort(compareCodePoints) : Object.keys(record);
  const members: string[] = [];
  for (const key of keys) {
    const text = write(record[key], inner, step, byId);
    if (text !== undefined) members.push(`${JSON.stringify(key)}:${step === '' ? '' : ' '}${text}`);
  }
  return members.length === 0 ? '{}' : `{${open}${members.join(separator)}${close}}`;
}
