import type { FastifyError } from 'fastify';
import { CaseLimitError, UnknownCaseError } from '../cases/case-errors.js';
import { InvalidInputError, SpecResolutionError } from '../scoring/input-errors.js';
import type { ErrorBody } from '../schemas/common.js';
import { RequestLimitError } from './request-limit.js';

const MAX_DETAILS = 20;

/** Maps a thrown error to the status and body a client sees; anything unexpected is a 500 that says nothing internal. */
export function describeError(error: unknown, bodyLimit: number): { status: number; body: ErrorBody } {
  if (error instanceof InvalidInputError) {
    return { status: 400, body: { error: 'invalid_input', message: `body${error.path}: ${error.message}`, details: [{ path: `body${error.path}`, message: error.message }] } };
  }
  if (error instanceof SpecResolutionError) {
    const path = `body/attributes/${error.attribute}`;
    return { status: 422, body: { error: error.reason, message: error.message, details: [{ path, message: error.message }] } };
  }
  if (error instanceof CaseLimitError) return { status: 422, body: { error: error.limit, message: error.message, details: [] } };
  if (error instanceof UnknownCaseError) return { status: 404, body: { error: 'case_not_found', message: error.message, details: [{ path: 'params/id', message: error.message }] } };
  if (error instanceof RequestLimitError) return { status: 413, body: { error: 'too_many_items', message: error.message, details: [{ path: error.path, message: error.message }] } };
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation !== undefined) {
    const context = fastifyError.validationContext ?? 'body';
    const details = fastifyError.validation.slice(0, MAX_DETAILS).map((v) => ({ path: `${context}${v.instancePath}`, message: v.message ?? 'is invalid' }));
    const first = details[0]!;
    return { status: 400, body: { error: 'validation_error', message: `${first.path}: ${first.message}`, details } };
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { error: 'body_too_large', message: `request body exceeds the limit of ${bodyLimit} bytes (--body-limit)`, details: [] } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: { error: 'unsupported_media_type', message: 'send the body as application/json', details: [] } };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: { error: 'empty_body', message: 'the request has Content-Type application/json but no body', details: [{ path: 'body', message: 'is empty' }] } };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: { error: 'malformed_json', message: `body is not valid JSON: ${fastifyError.message ?? ''}`, details: [{ path: 'body', message: fastifyError.message ?? 'invalid JSON' }] } };
  }
  if (error instanceof SyntaxError) {
    return { status: 400, body: { error: 'malformed_json', message: `body is not valid JSON: ${error.message}`, details: [{ path: 'body', message: error.message }] } };
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return { status, body: { error: (fastifyError.code ?? 'bad_request').toLowerCase(), message: fastifyError.message ?? 'bad request', details: [] } };
  }
  return { status: 500, body: { error: 'internal_error', message: 'the server failed to handle this request; see its log', details: [] } };
}
