import { CloneType, Type, type Static, type TSchema, type TUnsafe, type ObjectOptions } from '@sinclair/typebox';

/** A reference to a schema with an `$id` (registered once with addSchema), typed as that schema. */
export function refTo<T extends TSchema>(schema: T): TUnsafe<Static<T>> {
  if (schema.$id === undefined) throw new Error('refTo needs a schema with an $id');
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id));
}

/**
 * A JSON object with any keys and values of one schema, as `additionalProperties` (what OpenAPI 3.0 knows). TypeBox's
 * Record compiles to a key pattern (`^(.*)$`) tested with a regex on an `Object.entries` copy of every such object,
 * which on a request with a hundred events' attributes was a measurable share of validation.
 */
export function MapOf<T extends TSchema>(values: T, options: ObjectOptions = {}): TUnsafe<Record<string, Static<T>>> {
  return Type.Unsafe<Record<string, Static<T>>>(Type.Object({}, { ...options, additionalProperties: values }));
}

// Booleans as PETRA's REST app takes them: pydantic coerces true and false to 1.0 and 0.0 in its float maps.
export const NumericLike = Type.Union([Type.Number(), Type.String(), Type.Boolean()], {
  description: 'a finite JSON number, a numeric string as Python float() reads it ("0.5", " 1_000 ", "1e3"), or a boolean (true → 1.0, false → 0.0, as PETRA takes it)',
});

export const InputMap = MapOf(NumericLike, { description: 'place id → value' });

// Any JSON value, as PETRA takes them: a workflow engine's structured variables (objects, lists, Camunda's typed
// values) are kept and ignored unless a spec reads them, and a spec that reads one finds it not numeric.
export const AttributeValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null(), Type.Array(Type.Unknown()), Type.Object({})], {
  description:
    'any JSON value (a number must be finite); compared and converted as Python str() would see it (1000 → "1000", true → "True"). A spec reads numbers and numeric strings: an object or list is kept but not numeric',
});
export const Attributes = MapOf(AttributeValue);

/** Attributes where a serialiser may write null for none (Jackson and others do by default): null is no attributes. */
export const OptionalAttributes = Type.Optional(Type.Union([Attributes, Type.Null()], { description: 'attribute name → value; null means none' }));

export const Residuals = Type.Record(Type.String(), Type.Number(), { description: 'transition id → |activation − observed|, transition ids sorted' });

export const IgnoredInputs = Type.Array(Type.String(), {
  description:
    'JSON pointers of what was ignored, as PETRA ignores it: input_marking / input_values keys that are no ONNX input, fields of the body it does not know (/anomaly: a misspelt `attribute`; /forward: a misspelt `input_values`), and (/anomaly) events whose name matches no transition label exactly. Omitted when empty.',
});

export const ErrorDetail = Type.Object({
  path: Type.String({ description: 'JSON pointer into the request part named by its first segment (body, querystring, params)' }),
  message: Type.String(),
});

export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: 'machine-readable error class, e.g. validation_error, missing_attribute, not_found' }),
    message: Type.String({ description: 'what was wrong and where' }),
    details: Type.Array(ErrorDetail),
  },
  { $id: 'ErrorBody', title: 'ErrorBody' },
);
export type ErrorBody = Static<typeof ErrorBody>;

const ERROR_MEANINGS: Record<number, string> = {
  400: 'invalid request: malformed JSON, a wrong type or a non-finite number; `message` names the field path',
  404: 'no such case (or route)',
  413: 'body larger than --body-limit, more items (events, traces, input keys) than --max-events-per-request, or more residuals to answer than --max-residuals-per-request',
  415: 'body is not application/json',
  422: 'well-formed but unusable, `error` says why: for instance a trace attribute the spec needs is missing or not numeric (scoring), a per-case limit is reached (streaming), a value-channel search lacks its value (diagnostics)',
  503: 'the model cannot answer here: `shutting_down` (this instance is closing; send the request to another) or `inference_unavailable` (its inference worker stopped; the instance exits and must be restarted)',
};

/** An error response: a reference to the one ErrorBody schema, with what it means on this route and its headers. */
export function errorResponse(description: string, headers?: Record<string, ResponseHeader>): TUnsafe<ErrorBody> {
  return answer(ErrorBody, description, headers) as TUnsafe<ErrorBody>;
}

/** Error responses by status, with the meaning each status has on every route. */
export function errorResponses(...codes: (keyof typeof ERROR_MEANINGS)[]): Record<number, TUnsafe<ErrorBody>> {
  return Object.fromEntries(codes.map((c) => [c, errorResponse(ERROR_MEANINGS[c]!)]));
}

/** The content type of JSON answers; routes that write their JSON themselves (src/http/score-json.ts) set it. */
export const JSON_TYPE = 'application/json; charset=utf-8';

/** A response header as @fastify/swagger reads it from a response schema's `headers`: its schema and what it means. */
export interface ResponseHeader {
  type: 'string' | 'integer';
  description: string;
  enum?: readonly string[];
}

/**
 * A success response's schema with the words the OpenAPI document gives its status (Swagger's own: "Default Response"),
 * and the headers it may carry beside x-request-id.
 */
export function answer<T extends TSchema>(schema: T, description: string, headers?: Record<string, ResponseHeader>): T | TUnsafe<Static<T>> {
  const options = headers === undefined ? { description } : { description, headers };
  // A named component (an $id registered with addSchema) is referenced, not copied under its own $id again.
  return schema.$id === undefined ? CloneType(schema, options) : Type.Unsafe<Static<T>>(Type.Ref(schema, options));
}
