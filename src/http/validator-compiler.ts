import { Kind, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import { MAX_DETAILS } from './describe-error.js';

/**
 * @fastify/type-provider-typebox's validator compiler, with the same checks and the same errors, except for the query
 * string and path parameters, which arrive as strings: a value that already passes its schema is not converted (an id
 * is already what the schema wants), and the others are converted strictly, by `fromText` below, where Value.Convert
 * read `limit=1e1` as 1 and `limit=2.5` as 2.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  const errors = (value: unknown): { error: FastifySchemaValidationError[] } => ({
    error: firstErrors(check.Errors(value)).map((error) => ({ message: error.message, instancePath: error.path, keyword: ValueErrorType[error.type], schemaPath: '', params: {} })),
  });
  if (httpPart === 'body') return (value: unknown) => (check.Check(value) ? { value } : errors(value));
  const kinds = propertyKinds(schema);
  return (value: unknown) => {
    if (check.Check(value)) return { value };
    const converted = kinds === undefined ? Value.Convert(schema, value) : fromText(value, kinds);
    return check.Check(converted) ? { value: converted } : errors(converted);
  };
};

type PrimitiveKind = 'Boolean' | 'Integer' | 'Number' | 'String';

/** The kinds of an object schema's properties, when every one is a primitive (all query and params schemas here). */
function propertyKinds(schema: TSchema): Map<string, PrimitiveKind> | undefined {
  const properties = (schema as { properties?: Record<string, TSchema> }).properties;
  if (schema[Kind] !== 'Object' || properties === undefined) return undefined;
  const kinds = new Map<string, PrimitiveKind>();
  for (const [name, property] of Object.entries(properties)) {
    const kind = property[Kind];
    if (kind !== 'Boolean' && kind !== 'Integer' && kind !== 'Number' && kind !== 'String') return undefined;
    kinds.set(name, kind);
  }
  return kinds;
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A copy with each text converted to its property's kind when it spells one exactly: booleans as Value.Convert reads
 * them (`true`/`false` in any case, `1`/`0`), integers as digits, numbers as decimal numerals. Anything else is left as
 * text, for the check to refuse with its path.
 */
function fromText(value: unknown, kinds: ReadonlyMap<string, PrimitiveKind>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = { ...value };
  for (const [name, kind] of kinds) {
    const text = copy[name];
    if (typeof text !== 'string') continue;
    if (kind === 'Boolean') {
      const lower = text.toLowerCase();
      if (lower === 'true' || text === '1') copy[name] = true;
      else if (lower === 'false' || text === '0') copy[name] = false;
    } else if (kind === 'Integer' ? INTEGER.test(text) : kind === 'Number' && DECIMAL.test(text)) {
      copy[name] = Number(text);
    }
  }
  return copy;
}

/**
 * The first `limit` errors, a missing property reported once (TypeBox also says what type the absent value should have
 * had, at the same path, after the missing one). Read lazily: a body of 300,000 bad events held the event loop for
 * most of a second while every error was built, of which an answer shows MAX_DETAILS.
 */
export function firstErrors(errors: Iterable<ValueError>, limit: number = MAX_DETAILS): ValueError[] {
  const kept: ValueError[] = [];
  const missing = new Set<string>();
  for (const error of errors) {
    if (error.type === ValueErrorType.ObjectRequiredProperty) missing.add(error.path);
    else if (missing.has(error.path)) continue;
    if (kept.push(error) >= limit) break;
  }
  return kept;
}

/**
 * A route's validator compiler that checks its body against `body` instead of the schema it documents (for a body
 * whose parts the handler checks one by one, so that one bad part does not fail the others).
 */
export function checkingBodyAs<S>(body: TSchema): FastifySchemaCompiler<S> {
  return (route) => validatorCompiler({ ...route, schema: route.httpPart === 'body' ? body : (route.schema as TSchema) });
}
