/**
 * The OpenAPI document as client generators read it best, derived from what @fastify/swagger makes of the TypeBox
 * schemas without changing what it says:
 * - a union of literals (TypeBox's enum, `anyOf` of one-value `enum`s) becomes one `enum`, which generators turn into an
 *   enum type where they made a wrapper class per branch; a union with null, its other branches made nullable;
 * - every operation gets a `default` response, the one ErrorBody, for the statuses any route may answer that its own
 *   list leaves out (405, 408, 414, 431, 503 while closing…): every error this service answers has that shape (with
 *   `Allow` on a 405);
 * - every response declares the `x-request-id` header every answer carries;
 * - served with a bundle the schemas' written examples do not fit, its own request examples (bundle-examples.ts).
 */

import { REQUEST_ID_MEANING } from '../http/request-id.js';
import { EXAMPLE_SUMMARIES, type RequestExamples } from './bundle-examples.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `{type, enum: [one value]}` and nothing else: a literal as @fastify/swagger writes it for OpenAPI 3.0. */
function literalOf(branch: unknown): { type: unknown; value: unknown } | undefined {
  if (!isObject(branch) || !Array.isArray(branch.enum) || branch.enum.length !== 1) return undefined;
  const keys = Object.keys(branch);
  if (branch.enum[0] === null) return keys.every((k) => ['type', 'enum', 'nullable'].includes(k)) ? { type: null, value: null } : undefined;
  return keys.length === 2 && keys.includes('type') ? { type: branch.type, value: branch.enum[0] } : undefined;
}

/** The node's `anyOf` as one enum, when every branch is a literal of one type (and perhaps null); else undefined. */
function asEnum(node: Json): Json | undefined {
  if (!Array.isArray(node.anyOf) || node.anyOf.length < 2) return undefined;
  const literals = node.anyOf.map(literalOf);
  if (literals.some((l) => l === undefined)) return undefined;
  const typed = literals.filter((l) => l!.type !== null);
  const types = new Set(typed.map((l) => l!.type));
  if (types.size !== 1) return undefined;
  const { anyOf: _branches, ...rest } = node;
  const nullable = typed.length < literals.length;
  return { ...rest, type: [...types][0], ...(nullable ? { nullable: true } : {}), enum: literals.map((l) => l!.value) };
}

function collapseEnums(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(collapseEnums);
  if (!isObject(node)) return node;
  const collapsed = asEnum(node) ?? node;
  return Object.fromEntries(Object.entries(collapsed).map(([key, value]) => [key, collapseEnums(value)]));
}

/**
 * An `anyOf` with a null branch (`{type: object, nullable: true, enum: [null]}`, @fastify/swagger's null in OpenAPI
 * 3.0) as its other branches made nullable: generators read the null branch as one more object type (a timestamp typed
 * number | string | object). One branch left is merged into the node; several each take `nullable`. Left as it is
 * when a branch has no `type` (a $ref cannot take `nullable` in 3.0).
 */
function withoutNullBranch(node: Json): Json | undefined {
  if (!Array.isArray(node.anyOf)) return undefined;
  const isNull = (branch: unknown) => literalOf(branch)?.value === null && literalOf(branch)?.type === null;
  const others = node.anyOf.filter((branch) => !isNull(branch));
  if (others.length === node.anyOf.length || others.length === 0 || !others.every((branch) => isObject(branch) && typeof branch.type === 'string')) return undefined;
  const { anyOf: _branches, ...rest } = node;
  // The union's own words (its description) win over the branch's.
  if (others.length === 1) return { ...(others[0] as Json), ...rest, nullable: true };
  return { ...rest, anyOf: others.map((branch) => ({ ...(branch as Json), nullable: true })) };
}

function nullableBranches(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(nullableBranches);
  if (!isObject(node)) return node;
  const shaped = withoutNullBranch(node) ?? node;
  return Object.fromEntries(Object.entries(shaped).map(([key, value]) => [key, nullableBranches(value)]));
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** `document` with `change` applied to each operation (a path item's other keys, such as `parameters`, kept). */
function mapOperations(document: Json, change: (operation: Json, method: string, path: string) => Json): Json {
  if (!isObject(document.paths)) return document;
  const paths = Object.entries(document.paths).map(([path, item]) => [
    path,
    isObject(item) ? Object.fromEntries(Object.entries(item).map(([method, operation]) => [method, METHODS.has(method) && isObject(operation) ? change(operation, method, path) : operation])) : item,
  ]);
  return { ...document, paths: Object.fromEntries(paths) };
}

/** Every answer's `x-request-id` (the request tracking hook sets it on all of them), declared on `response`. */
function withRequestId(response: unknown): unknown {
  if (!isObject(response)) return response;
  const headers = isObject(response.headers) ? response.headers : {};
  const requestId = { description: REQUEST_ID_MEANING, schema: { type: 'string' } };
  return { ...response, headers: { ...headers, 'x-request-id': requestId } };
}

/** The default error response (on HEAD without its body, which HEAD answers lack) and x-request-id on every response. */
function withCommonResponses(operation: Json, method: string): Json {
  if (!isObject(operation.responses)) return operation;
  // A fresh object each: one shared object would be written as YAML anchors and aliases.
  const errorBody = {
    description: 'any other error: the status says which, the body what and where',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
    headers: { allow: { description: 'on a 405: the methods this path answers', schema: { type: 'string' } } },
  };
  // HEAD too answers statuses it does not list (414 for an id past the URL limit, 405), with no body.
  const all = { ...operation.responses, default: method === 'head' ? { description: 'any other error: the status says which (no body, as for any HEAD)' } : errorBody };
  return { ...operation, responses: Object.fromEntries(Object.entries(all).map(([status, response]) => [status, withRequestId(response)])) };
}

/** `operation` with `values` as its JSON request body's examples, in place of the schema's own. */
function withBodyExamples(operation: Json, values: readonly unknown[] | undefined): Json {
  if (values === undefined || !isObject(operation.requestBody)) return operation;
  const content = operation.requestBody.content;
  const media = isObject(content) ? content['application/json'] : undefined;
  if (!isObject(content) || !isObject(media)) return operation;
  const { example: _written, examples: _writtenToo, ...rest } = media;
  // Copies through JSON, which shares nothing (structuredClone keeps a shared object shared): bundleExamples shares one
  // marking, one events list and one attributes object between and within examples, which the YAML document
  // (/docs/yaml) would write as anchors and aliases.
  const examples = Object.fromEntries(values.map((value, i) => [`example${i + 1}`, { value: JSON.parse(JSON.stringify(value)) as unknown }]));
  return { ...operation, requestBody: { ...operation.requestBody, content: { ...content, 'application/json': { ...rest, examples } } } };
}

/** `operation` with a summary on each of its JSON request body's examples (example1, example2…), from `summaries`. */
function withExampleSummaries(operation: Json, summaries: readonly string[] | undefined): Json {
  if (summaries === undefined || !isObject(operation.requestBody) || !isObject(operation.requestBody.content)) return operation;
  const content = operation.requestBody.content;
  const media = content['application/json'];
  if (!isObject(media) || !isObject(media.examples)) return operation;
  const examples = Object.fromEntries(
    Object.entries(media.examples).map(([name, example], i) => [name, isObject(example) && summaries[i] !== undefined ? { summary: summaries[i], ...example } : example]),
  );
  return { ...operation, requestBody: { ...operation.requestBody, content: { ...content, 'application/json': { ...media, examples } } } };
}

/**
 * @fastify/swagger's `transformObject` for OpenAPI 3: the document with enums collapsed, default error responses, and
 * the loaded bundle's request examples when the schemas' own do not fit it, each example with what it shows.
 */
export function shapeOpenApi<T>(document: T, examples?: RequestExamples): T {
  const shaped = mapOperations(nullableBranches(collapseEnums(document)) as Json, withCommonResponses);
  const summaries = examples === undefined ? EXAMPLE_SUMMARIES.written : EXAMPLE_SUMMARIES.bundle;
  const withExamples = examples === undefined ? shaped : mapOperations(shaped, (operation, method, path) => withBodyExamples(operation, examples[`${method} ${path}`]));
  return mapOperations(withExamples, (operation, method, path) => withExampleSummaries(operation, summaries[`${method} ${path}`])) as T;
}
