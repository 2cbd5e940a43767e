import { KindGuard } from '@sinclair/typebox';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import type { FastifyError } from 'fastify';
import { CaseLimitError, CasesSavedError, UnknownCaseError } from '../cases/case-errors.js';
import { DiagnosticsError, type DiagnosticsErrorCode } from '../diagnostics/errors.js';
import { InvalidInputError, SpecResolutionError } from '../scoring/input-errors.js';
import { escapePointer } from '../scoring/inputs.js';
import { quoteValue, shortened } from '../scoring/quote-value.js';
import { MAX_CASE_ID_LENGTH, MAX_PARAM_URL_LENGTH } from '../schemas/cases.js';
import type { ErrorBody } from '../schemas/common.js';
import { RequestLimitError } from './request-limit.js';
import { RunnerClosedError } from '../inference/onnx-runner.js';
import { InferenceUnavailableError } from '../inference/inference-unavailable.js';
import { isSlipOf } from '../config/edit-distance.js';
import { StaticFileError } from './static-file-error.js';

/** The most validation errors an answer lists (src/http/validator-compiler.ts reads no more than these). */
export const MAX_DETAILS = 20;

/** A request that arrived on an open connection after the server began to close (Fastify's own 503 had another shape). */
export class ServerClosingError extends Error {
  constructor() {
    super('the server is shutting down; send this request to another instance');
    this.name = 'ServerClosingError';
  }
}

/** A body sent to a POST, PUT, PATCH or DELETE route that takes none (a close): refused, where it would be dropped. */
export class UnexpectedBodyError extends Error {
  readonly statusCode = 400;

  constructor(method: string, path: string) {
    // The hint is a close's (an event sent with it); a DELETE drops the case, and sending its events first would not help.
    const hint = method === 'DELETE' ? 'a DELETE drops the case unscored' : 'an event goes to POST /cases/{id}/events before the close';
    super(`${method} ${path} takes no body (an empty one, {} or null are accepted); ${hint}`);
    this.name = 'UnexpectedBodyError';
  }
}

/** The body was not JSON (or was JSON that smuggles a prototype key); `reason` says what the parser objected to. */
export class MalformedJsonError extends Error {
  readonly statusCode = 400;

  /** `refused`: valid JSON with a key refused on purpose (prototype poisoning), not a syntax error. */
  constructor(
    readonly reason: string,
    refused = false,
  ) {
    super(refused ? `body is refused: ${reason}` : `body is not valid JSON: ${reason}`);
    this.name = 'MalformedJsonError';
  }
}

/** A body that failed to decode or parse, sent with a Content-Type that declares a charset other than UTF-8. */
export class UnsupportedCharsetError extends Error {
  readonly statusCode = 415;

  constructor(readonly charset: string) {
    super(`Content-Type declares charset ${quoteValue(charset)}, and the body is not UTF-8, which JSON must be (RFC 8259): send it encoded as UTF-8`);
    this.name = 'UnsupportedCharsetError';
  }
}

/**
 * A body sent compressed, which the service does not decode: a Content-Encoding, or a transfer coding beside chunked
 * (`Transfer-Encoding: gzip, chunked`, of which Node removes only the chunking).
 */
export class UnsupportedEncodingError extends Error {
  readonly statusCode = 415;

  constructor(
    readonly encoding: string,
    readonly header: 'content-encoding' | 'transfer-encoding' = 'content-encoding',
  ) {
    super(
      header === 'content-encoding'
        ? `Content-Encoding ${quoteValue(encoding)} is not supported; send the body uncompressed`
        : `Transfer-Encoding ${quoteValue(encoding)} is not supported: a compressed transfer coding is not decoded; send the body uncompressed (chunked alone is fine)`,
    );
    this.name = 'UnsupportedEncodingError';
  }
}

/** Not a node of the net, or a malformed range: 400; a node the model has no input or output for, or a missing value: 422. */
const DIAGNOSTICS_STATUS: Record<DiagnosticsErrorCode, 400 | 422> = {
  unknown_place: 400,
  unknown_transition: 400,
  invalid_search_range: 400,
  place_not_flippable: 422,
  transition_not_output: 422,
  missing_flip_value: 422,
};

type Part = 'body' | 'querystring' | 'params' | 'headers';

/**
 * Top-level body fields the route's schema does not know, which it ignores as PETRA does: when the marking could not
 * be derived from the attributes, an `inputMarking` (camelCase, as a Java client writes it) is the likely reason, and
 * the answer says so rather than only naming a missing attribute.
 */
function strayFields(request: RequestParts | undefined): { path: string; message: string }[] {
  const body = request?.body;
  const schema = request?.schema?.body;
  if (!isRecord(body) || !isRecord(schema) || !isRecord(schema.properties)) return [];
  const known = Object.keys(schema.properties);
  return Object.keys(body)
    .filter((key) => !known.includes(key))
    .slice(0, 5)
    .map((key) => {
      const meant = known.find((name) => isSlipOf(key, name));
      return { path: `body/${escapePointer(key)}`, message: `${quoteValue(key)} is no field of this request and was ignored${meant === undefined ? '' : ` (did you mean ${quoteValue(meant)}?)`}` };
    });
}

/**
 * A trace's attribute missing from its `attributes` but sent on one of its events: the likeliest mistake of a
 * listener that copies an event's variables, which PETRA (and so /anomaly) does not read for the marking.
 */
function eventAttribute(request: RequestParts | undefined, error: SpecResolutionError): { path: string; message: string }[] {
  const events = isRecord(request?.body) ? request.body.events : undefined;
  if (error.reason !== 'missing_attribute' || !Array.isArray(events)) return [];
  const index = events.findIndex((event) => isRecord(event) && isRecord(event.attributes) && Object.hasOwn(event.attributes, error.attribute));
  if (index < 0) return [];
  return [
    {
      path: `body/events/${index}/attributes/${escapePointer(error.attribute)}`,
      message: `${quoteValue(error.attribute)} was sent on an event, which is not read for the inputs: give it in the trace's attributes (body/attributes)`,
    },
  ];
}

/**
 * What the request carried, so that an error can show the offending value and the expected type: the parsed parts
 * and the route's schemas (Fastify's `request.body`, `request.query`, `request.params`, `request.routeOptions.schema`).
 */
export interface RequestParts {
  body?: unknown;
  querystring?: unknown;
  params?: unknown;
  schema?: Partial<Record<Part, unknown>> | undefined;
  contentType?: string | undefined;
  /** The request URL, for errors raised before routing (a path parameter too long). */
  url?: string | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pointerSegments(pointer: string): string[] | undefined {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return undefined;
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function valueAt(root: unknown, segments: readonly string[]): unknown {
  let value = root;
  for (const segment of segments) {
    if (Array.isArray(value)) value = /^\d+$/.test(segment) ? value[Number(segment)] : undefined;
    else if (isRecord(value)) value = Object.hasOwn(value, segment) ? value[segment] : undefined;
    else return undefined;
  }
  return value;
}

/** The JSON schema that applies at a path, as far as it can be told without the value (unions: the first branch that has the path). */
function schemaAt(schema: unknown, segments: readonly string[]): Record<string, unknown> | undefined {
  if (!isRecord(schema)) return undefined;
  const [head, ...rest] = segments;
  if (head === undefined) return schema;
  if (Array.isArray(schema.anyOf)) {
    for (const branch of schema.anyOf) {
      const found = schemaAt(branch, segments);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (schema.type === 'array') return /^\d+$/.test(head) ? schemaAt(schema.items, rest) : undefined;
  if (schema.type !== 'object') return undefined;
  if (isRecord(schema.properties) && Object.hasOwn(schema.properties, head)) return schemaAt(schema.properties[head], rest);
  if (isRecord(schema.patternProperties)) {
    const first = Object.values(schema.patternProperties)[0];
    if (first !== undefined) return schemaAt(first, rest);
  }
  return isRecord(schema.additionalProperties) ? schemaAt(schema.additionalProperties, rest) : undefined;
}

/** The error class of a 4xx that carries no code of its own (e.g. @fastify/static's 403 for a path outside its root). */
const STATUS_ERRORS: Record<number, string> = { 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 410: 'gone' };

const TYPE_NAMES: Record<string, string> = {
  number: 'a finite number',
  integer: 'an integer',
  string: 'a string',
  boolean: 'a boolean',
  null: 'null',
  object: 'an object',
  array: 'an array',
};

/**
 * "a finite number or a string" for a union of simple types, `'marking' or 'value'` for a union of literals (a literal
 * is a string branch too, which read "a string or a string"); undefined when a branch is neither.
 */
function describeUnion(schema: Record<string, unknown> | undefined): string | undefined {
  if (schema === undefined || !Array.isArray(schema.anyOf)) return undefined;
  const names: string[] = [];
  for (const branch of schema.anyOf) {
    const literal = isRecord(branch) && 'const' in branch ? JSON.stringify(branch.const)?.replace(/^"(.*)"$/, "'$1'") : undefined;
    const type = isRecord(branch) && typeof branch.type === 'string' ? TYPE_NAMES[branch.type] : undefined;
    if (literal === undefined && type === undefined) return undefined;
    names.push(literal ?? type!);
  }
  return names.length <= 2 ? names.join(' or ') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)!}`;
}

/** The value a client sent, as a short phrase for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number') {
    // JSON has no NaN/Infinity literals: a non-finite number is one too large for a double, e.g. 1e400.
    return Number.isFinite(value) ? String(value) : `a number too large to be finite (it reads as ${value})`;
  }
  if (typeof value === 'string') return JSON.stringify(shortened(value));
  if (value === null || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

/** A union error whose value has the right shape for one branch: the error inside that branch, not "Expected union value". */
function innermost(error: ValueError): ValueError {
  if (error.type !== ValueErrorType.Union) return error;
  for (const branch of error.errors) {
    const first = branch.First();
    if (first !== undefined && first.path !== error.path) return innermost(first);
  }
  return error;
}

/** Re-checks a union's value against the union (a TypeBox schema) to find what inside it went wrong; the path is relative. */
function refineUnion(schema: Record<string, unknown> | undefined, value: unknown): { path: string; message: string } | undefined {
  if (schema === undefined || !KindGuard.IsSchema(schema)) return undefined;
  try {
    const first = Value.Errors(schema, value).First();
    if (first === undefined) return undefined;
    const inner = innermost(first);
    return { path: inner.path, message: inner.message };
  } catch {
    return undefined;
  }
}

function validationDetail(part: Part, instancePath: string, message: string, request: RequestParts | undefined): { path: string; message: string } {
  const plain = { path: `${part}${instancePath}`, message };
  const segments = pointerSegments(instancePath);
  if (request === undefined || segments === undefined) return plain;
  // A header's value is not quoted back: the one declared (Last-Event-ID) is refused for its length.
  const root = part === 'body' ? request.body : part === 'querystring' ? request.querystring : part === 'params' ? request.params : undefined;
  const partSchema = request.schema?.[part];
  let path = instancePath;
  let text = message;
  let at = segments;
  if (message === 'Expected union value') {
    const refined = refineUnion(schemaAt(partSchema, segments), valueAt(root, segments));
    const deeper = refined === undefined ? undefined : pointerSegments(refined.path);
    if (refined !== undefined && deeper !== undefined) {
      path = `${instancePath}${refined.path}`;
      text = refined.message;
      at = [...segments, ...deeper];
    }
    if (text === 'Expected union value') {
      const expected = describeUnion(schemaAt(partSchema, at));
      if (expected !== undefined) text = `Expected ${expected}`;
    }
  }
  if (text.startsWith('Expected string to match')) {
    // A schema may say in words what its pattern accepts: a regex is no answer for a person.
    const expected = schemaAt(partSchema, at)?.['x-expected'];
    if (typeof expected === 'string') text = `Expected ${expected}`;
  }
  if (text === 'Unexpected property') {
    // A misspelt field: say which ones there are (its value is beside the point).
    const known = schemaAt(partSchema, segments.slice(0, -1))?.properties;
    if (isRecord(known)) return { path: `${part}${path}`, message: `Unknown field; the fields are ${Object.keys(known).join(', ')}` };
  }
  const value = valueAt(root, at);
  if (value === undefined) return { path: `${part}${path}`, message: text };
  return { path: `${part}${path}`, message: `${text}, got ${describeValue(value)}${/\bobject\b/.test(text) ? variableListHint(value) : ''}` };
}

/**
 * Flowable's and Activiti's REST APIs list process variables as `[{name, type, value}]`; the maps here (attributes,
 * input_marking) want `{name: value}`. Said when an array of such entries is where a map belongs.
 */
function variableListHint(value: unknown): string {
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => isRecord(v) && typeof v.name === 'string' && 'value' in v)) return '';
  const first = value[0] as { name: string; value: unknown };
  return `; a list of {name, value} variables, as Flowable and Activiti write them, goes here as one object of name → value, such as ${JSON.stringify({ [first.name]: first.value })}`;
}

function partOf(context: string | undefined): Part {
  return context === 'querystring' || context === 'params' || context === 'headers' ? context : 'body';
}

/**
 * Maps a thrown error to the status and body a client sees; anything unexpected is a 500 that says nothing internal.
 * With the request's parts, validation messages show the offending value and, for unions, the accepted types.
 */
export function describeError(error: unknown, bodyLimit: number, request?: RequestParts): { status: number; body: ErrorBody } {
  if (error instanceof InvalidInputError) {
    return { status: 400, body: { error: 'invalid_input', message: `body${error.path}: ${error.message}`, details: [{ path: `body${error.path}`, message: error.message }] } };
  }
  if (error instanceof SpecResolutionError) {
    // On the case routes the attribute is one the case's events should have supplied: the case is named by params/id.
    // The message stays PETRA's own text (the streaming replay compares it).
    const onCase = isRecord(request?.params) && typeof request.params.id === 'string';
    const path = onCase ? 'params/id' : `body/attributes/${escapePointer(error.attribute)}`;
    const strays = onCase ? [] : [...eventAttribute(request, error), ...strayFields(request)];
    const message = strays.length === 0 ? error.message : `${error.message}; ${strays.map((s) => s.message).join('; ')}`;
    return { status: 422, body: { error: error.reason, message, details: [{ path, message: error.message }, ...strays] } };
  }
  if (error instanceof CaseLimitError) {
    const path = error.limit === 'max_events_per_case' ? 'params/id' : 'body/attributes';
    return { status: 422, body: { error: error.limit, message: error.message, details: [{ path, message: error.message }] } };
  }
  if (error instanceof DiagnosticsError) return { status: DIAGNOSTICS_STATUS[error.code], body: { error: error.code, message: error.message, details: [{ path: `body${error.path}`, message: error.message }] } };
  if (error instanceof UnknownCaseError) return { status: 404, body: { error: 'case_not_found', message: error.message, details: [{ path: 'params/id', message: error.message }] } };
  if (error instanceof RequestLimitError) return { status: 413, body: { error: 'too_many_items', message: error.message, details: [{ path: error.path, message: error.message }] } };
  if (error instanceof ServerClosingError) return { status: 503, body: { error: 'shutting_down', message: error.message, details: [] } };
  if (error instanceof RunnerClosedError) return { status: 503, body: { error: 'shutting_down', message: error.message, details: [] } };
  if (error instanceof CasesSavedError) return { status: 503, body: { error: 'shutting_down', message: error.message, details: [] } };
  if (error instanceof InferenceUnavailableError) return { status: 503, body: { error: 'inference_unavailable', message: error.message, details: [] } };
  if (error instanceof UnsupportedEncodingError) {
    const detail = error.header === 'content-encoding' ? 'not supported' : 'only chunked is supported';
    return { status: 415, body: { error: 'unsupported_media_type', message: error.message, details: [{ path: `headers/${error.header}`, message: detail }] } };
  }
  if (error instanceof UnsupportedCharsetError) {
    return { status: 415, body: { error: 'unsupported_media_type', message: error.message, details: [{ path: 'headers/content-type', message: 'only charset utf-8 is supported' }] } };
  }
  if (error instanceof StaticFileError) return { status: error.status, body: { error: error.code, message: error.message, details: [{ path: error.path, message: error.detail }] } };
  if (error instanceof UnexpectedBodyError) return { status: 400, body: { error: 'unexpected_body', message: error.message, details: [{ path: 'body', message: 'this route takes no body' }] } };
  if (error instanceof MalformedJsonError) {
    return { status: 400, body: { error: 'malformed_json', message: error.message, details: [{ path: 'body', message: error.reason }] } };
  }
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation !== undefined) {
    const part = partOf(fastifyError.validationContext);
    const details = fastifyError.validation.slice(0, MAX_DETAILS).map((v) => validationDetail(part, v.instancePath, v.message ?? 'is invalid', request));
    const first = details[0] ?? { path: part, message: 'is invalid' };
    return { status: 400, body: { error: 'validation_error', message: `${first.path}: ${first.message}`, details: details.length > 0 ? details : [first] } };
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { error: 'body_too_large', message: `request body exceeds the limit of ${bodyLimit} bytes (--body-limit)`, details: [{ path: 'body', message: `larger than ${bodyLimit} bytes` }] } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const type = request?.contentType;
      const [message, detail] =
        type === undefined
          ? ['the body has no Content-Type header; send it as application/json', 'missing']
          : [`Content-Type ${JSON.stringify(type)} is not supported; send the body as application/json`, 'not application/json'];
      return { status: 415, body: { error: 'unsupported_media_type', message, details: [{ path: 'headers/content-type', message: detail }] } };
    }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: { error: 'empty_body', message: 'the request has Content-Type application/json but no body', details: [{ path: 'body', message: 'is empty' }] } };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: { error: 'malformed_json', message: `body is not valid JSON: ${fastifyError.message ?? ''}`, details: [{ path: 'body', message: fastifyError.message ?? 'invalid JSON' }] } };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, body: { error: 'invalid_content_length', message: 'the body size does not match the Content-Length header', details: [] } };
    case 'FST_ERR_BAD_URL': {
      // Fastify's message quotes the whole URL: a long one is shortened, as every value quoted back is.
      const url = request?.url === undefined ? 'the URL' : `the URL ${quoteValue(request.url)}`;
      return { status: 400, body: { error: 'bad_url', message: `${url} is not valid percent-encoding`, details: [{ path: 'url', message: 'not valid percent-encoding' }] } };
    }
    case 'FST_ERR_MAX_PARAM_LENGTH': {
      // Raised by the router before any route is chosen; the only path parameter the routes have is a case id.
      const url = request?.url === undefined ? '' : ` in ${quoteValue(request.url)} (${request.url.length} characters)`;
      const limit = `a case id may have at most ${MAX_CASE_ID_LENGTH} characters, and a path parameter at most ${MAX_PARAM_URL_LENGTH} characters of the URL (percent-encoded)`;
      return { status: 414, body: { error: 'uri_too_long', message: `the path parameter${url} is too long: ${limit}`, details: [{ path: 'params/id', message: `longer than ${MAX_PARAM_URL_LENGTH} characters of the URL` }] } };
    }
  }
  if (error instanceof SyntaxError) {
    return { status: 400, body: { error: 'malformed_json', message: `body is not valid JSON: ${error.message}`, details: [{ path: 'body', message: error.message }] } };
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return { status, body: { error: (fastifyError.code ?? STATUS_ERRORS[status] ?? 'bad_request').toLowerCase(), message: fastifyError.message ?? 'bad request', details: [] } };
  }
  return { status: 500, body: { error: 'internal_error', message: 'the server failed to handle this request; see its log', details: [] } };
}
