import { Kind, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';

/**
 * @fastify/type-provider-typebox's validator compiler, with the same checks and the same errors, except that a
 * querystring or params object that already passes its schema is not converted first: an id or a string parameter is
 * already what the schema wants, and Value.Convert walked and copied it on every request. A boolean flag sent as
 * `true` or `false` (`?score=true`, on every streamed event) is converted directly, as Value.Convert would.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  const errors = (value: unknown): { error: FastifySchemaValidationError[] } => ({
    error: withoutEchoes([...check.Errors(value)]).map((error) => ({ message: error.message, instancePath: error.path, keyword: ValueErrorType[error.type], schemaPath: '', params: {} })),
  });
  const flags = httpPart === 'body' ? [] : booleanProperties(schema);
  return (value: unknown) => {
    if (check.Check(value)) return { value };
    if (httpPart === 'body') return errors(value);
    const flagged = flags.length > 0 ? withFlags(value, flags) : undefined;
    if (flagged !== undefined && check.Check(flagged)) return { value: flagged };
    const converted = Value.Convert(schema, value);
    return check.Check(converted) ? { value: converted } : errors(converted);
  };
};

/** The names of an object schema's boolean properties. */
function booleanProperties(schema: TSchema): string[] {
  const properties = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  return Object.keys(properties).filter((name) => properties[name]![Kind] === 'Boolean');
}

/** A copy with the flags spelt `true` or `false` as booleans; anything else is left for Value.Convert. */
function withFlags(value: unknown, flags: readonly string[]): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const copy: Record<string, unknown> = { ...value };
  for (const flag of flags) {
    if (copy[flag] === 'true') copy[flag] = true;
    else if (copy[flag] === 'false') copy[flag] = false;
  }
  return copy;
}

/** A missing property is reported once: TypeBox also says what type the absent value should have had, at the same path. */
function withoutEchoes(errors: ValueError[]): ValueError[] {
  const missing = new Set(errors.filter((e) => e.type === ValueErrorType.ObjectRequiredProperty).map((e) => e.path));
  return missing.size === 0 ? errors : errors.filter((e) => e.type === ValueErrorType.ObjectRequiredProperty || !missing.has(e.path));
}
