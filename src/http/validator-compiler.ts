import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';

/**
 * @fastify/type-provider-typebox's validator compiler, with the same checks and the same errors, except that a
 * querystring or params object that already passes its schema is not converted first: an id or a string parameter is
 * already what the schema wants, and Value.Convert walked and copied it on every request.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  const errors = (value: unknown): { error: FastifySchemaValidationError[] } => ({
    error: [...check.Errors(value)].map((error) => ({ message: error.message, instancePath: error.path, keyword: ValueErrorType[error.type], schemaPath: '', params: {} })),
  });
  return (value: unknown) => {
    if (check.Check(value)) return { value };
    if (httpPart === 'body') return errors(value);
    const converted = Value.Convert(schema, value);
    return check.Check(converted) ? { value: converted } : errors(converted);
  };
};
