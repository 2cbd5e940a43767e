import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv, type ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { App } from '../src/app.js';
import { committedOpenApi } from '../src/openapi.js';
import { testApp } from './helpers/app.js';
import { modelPath, ROOT } from './helpers/fixtures.js';

interface Response {
  content?: Record<string, { schema?: object }>;
  headers?: Record<string, { schema: object }>;
}
interface Parameter {
  in: string;
  name: string;
  example?: unknown;
}
interface Operation {
  responses: Record<string, Response>;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { example?: unknown; examples?: Record<string, { value: unknown }> }> };
}
type Document = { paths: Record<string, Record<string, Operation>> };

/** What a client generated from openapi.yaml relies on: the document is valid OpenAPI, and every answer fits it. */
describe('openapi.yaml against the answers the service gives', () => {
  let app: App;
  let doc: Document;
  // OpenAPI 3.0 schemas: `nullable` is Ajv's own keyword; `example` and formats such as int64 are annotations here.
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  const validators = new Map<object, ValidateFunction>();

  beforeAll(async () => {
    app = await testApp();
    await SwaggerParser.validate(parse(committedOpenApi(ROOT)) as never);
    doc = (await SwaggerParser.dereference(parse(committedOpenApi(ROOT)) as never)) as unknown as Document;
  });
  afterAll(async () => app.close());

  /** The documented response of this answer: its status's, else the operation's default (every error's). */
  function documented(method: string, url: string, status: number): Response {
    const path = url.split('?')[0]!;
    const entry = Object.entries(doc.paths).find(([pattern]) => new RegExp(`^${pattern.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));
    expect(entry, `${method} ${path} is documented`).toBeDefined();
    // A method the path does not take (405) has no operation: its answer is the error body every operation's default is.
    const operation = entry![1][method.toLowerCase()] ?? (status === 405 ? Object.values(entry![1])[0] : undefined);
    const response = operation?.responses[String(status)] ?? operation?.responses.default;
    expect(response, `${method} ${path} documents ${status} or a default`).toBeDefined();
    return response!;
  }

  function validatorOf(schema: object): ValidateFunction {
    let validate = validators.get(schema);
    if (validate === undefined) validators.set(schema, (validate = ajv.compile(schema)));
    return validate;
  }

  /** Every header of ours the answer carries is declared by its response, and its value fits the declared schema. */
  function checkHeaders(what: string, headers: Record<string, unknown>, response: Response): void {
    for (const [name, value] of Object.entries(headers)) {
      if (!/^(x-|retry-after$|allow$)/.test(name)) continue;
      const declared = response.headers?.[name];
      expect(declared, `${what} declares its ${name} header`).toBeDefined();
      const schema = declared!.schema as { type?: string };
      const typed = schema.type === 'integer' ? Number(value) : value;
      expect(validatorOf(schema)(typed), `${what}: ${name}: ${String(value)} fits ${JSON.stringify(schema)}`).toBe(true);
    }
  }

  /** The last answer `check` checked, for a test to look at its headers. */
  let last: { headers: Record<string, unknown>; body: string } = { headers: {}, body: '' };

  async function check(method: 'GET' | 'POST' | 'DELETE' | 'PUT', url: string, payload?: unknown, on = app): Promise<number> {
    const response = await on.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
    last = response;
    const documentedResponse = documented(method, url, response.statusCode);
    expect(response.headers['x-request-id'], `${method} ${url} carries the x-request-id it documents`).toMatch(/^req-/);
    checkHeaders(`${method} ${url} ${response.statusCode}`, response.headers, documentedResponse);
    if (!String(response.headers['content-type']).startsWith('application/json')) return response.statusCode;
    const schema = documentedResponse.content?.['application/json']?.schema;
    expect(schema, `${method} ${url} ${response.statusCode} documents a JSON body`).toBeDefined();
    const validate = validatorOf(schema!);
    expect(validate(response.json()), `${method} ${url} ${response.statusCode}: ${ajv.errorsText(validate.errors)}\n${response.body.slice(0, 500)}`).toBe(true);
    return response.statusCode;
  }

  it('documents every answer of the scoring routes, their errors included', async () => {
    const trace = { input_marking: { p_application: 0.9 }, events: [{ name: 'approve loan' }], attributes: { risk_score: '0.9' } };
    expect(await check('POST', '/anomaly', trace)).toBe(200);
    expect(await check('POST', '/anomaly', { ...trace, input_marking: { p_application: 0.9, nowhere: 1 }, events: [{ name: 'Approve Loan' }] })).toBe(200);
    expect(await check('POST', '/anomaly', { events: [] })).toBe(422);
    expect(await check('POST', '/anomaly', { events: 'none' })).toBe(400);
    expect(await check('POST', '/anomaly/batch', { traces: [trace, { events: [] }, 'not a trace'] })).toBe(200);
    expect(await check('POST', '/forward', { input_marking: { p_application: 0.3 } })).toBe(200);
    expect(await check('PUT', '/anomaly', trace)).toBe(405);
  });

  it('documents every answer of the streaming routes, from the first event to the close and after', async () => {
    expect(await check('POST', '/cases/doc-1/events', { name: 'approve loan', attributes: { risk_score: '0.9' } })).toBe(202);
    expect(await check('POST', '/cases/doc-1/events?score=true', { name: 'approve loan' })).toBe(200);
    expect(await check('GET', '/cases/doc-1')).toBe(200);
    expect(await check('GET', '/cases')).toBe(200);
    expect(await check('POST', '/events', { events: [{ case_id: 'doc-2', name: 'decline loan', attributes: { risk_score: '0.1' } }, { case_id: 'doc-2', name: 'decline loan' }] })).toBe(200);
    expect(await check('POST', '/events?score=true', { events: [{ case_id: 'doc-2', name: 'decline loan' }] })).toBe(200);
    expect(await check('POST', '/cases/doc-1/close')).toBe(200);
    expect(await check('POST', '/cases/doc-1/close')).toBe(404);
    // Results that say their event opened a new case under an ended id, scored and not.
    expect(await check('POST', '/events?score=true', { events: [{ case_id: 'doc-1', name: 'approve loan', attributes: { risk_score: '0.9' } }] })).toBe(200);
    expect(last.body).toContain('"reopened":"closed"');
    expect(await check('DELETE', '/cases/doc-2')).toBe(200);
    expect(await check('POST', '/events', { events: [{ case_id: 'doc-2', name: 'approve loan' }] })).toBe(200);
    expect(last.body).toContain('"reopened":"deleted"');
    expect(await check('POST', '/cases/doc-3/events', { name: 'approve loan' })).toBe(202);
    expect(await check('POST', '/cases/doc-3/close')).toBe(422);
    expect(await check('DELETE', '/cases/doc-3')).toBe(200);
  });

  it('declares the headers a reopened case, a repeated close, a refused /live stream and a 405 carry', async () => {
    const retries = await testApp({ repeatClose: true, liveMaxSubscribers: 0 });
    try {
      const event = { name: 'approve loan', attributes: { risk_score: '0.9' } };
      expect(await check('POST', '/cases/doc-4/events', event, retries)).toBe(202);
      expect(last.headers['x-petrascore-reopened']).toBeUndefined();
      expect(await check('POST', '/cases/doc-4/close', undefined, retries)).toBe(200);
      expect(last.headers['x-petrascore-repeated']).toBeUndefined();
      expect(await check('POST', '/cases/doc-4/close', undefined, retries)).toBe(200);
      expect(last.headers['x-petrascore-repeated']).toBe('true');
      expect(await check('POST', '/cases/doc-4/events', event, retries)).toBe(202);
      expect(last.headers['x-petrascore-reopened']).toBe('closed');
      expect(await check('POST', '/cases/doc-5/events', { name: 'approve loan' }, retries)).toBe(202);
      expect(await check('DELETE', '/cases/doc-5', undefined, retries)).toBe(200);
      expect(await check('POST', '/cases/doc-5/events?score=true', { name: 'approve loan', attributes: { risk_score: '0.2' } }, retries)).toBe(200);
      expect(last.headers['x-petrascore-reopened']).toBe('deleted');
      expect(await check('GET', '/live', undefined, retries)).toBe(503);
      expect(last.headers['retry-after']).toBe('5');
      expect(await check('PUT', '/cases/doc-5/close', undefined, retries)).toBe(405);
      expect(last.headers.allow).toBe('POST');
    } finally {
      await retries.close();
    }
  });

  it.each([undefined, 'compliance_audit'])("succeeds with every operation's example, executed down the document as a reader of Swagger UI does (%s)", async (bundle) => {
    // A fresh service, as a reader finds it, and the document it serves (a bundle's own examples); GET /live streams
    // until its client leaves, so it is not waited for.
    const fresh = await testApp(bundle === undefined ? {} : { bundle: modelPath(bundle) });
    try {
      const served = (await SwaggerParser.dereference((await fresh.inject({ method: 'GET', url: '/docs/json' })).json())) as unknown as Document;
      const failed: string[] = [];
      for (const [pattern, operations] of Object.entries(served.paths)) {
        for (const [method, operation] of Object.entries(operations)) {
          if (pattern === '/live') continue;
          let url = pattern;
          for (const parameter of operation.parameters ?? []) {
            if (parameter.in === 'path') url = url.replace(`{${parameter.name}}`, encodeURIComponent(String(parameter.example)));
          }
          const media = operation.requestBody?.content['application/json'];
          const body = media?.example ?? Object.values(media?.examples ?? {})[0]?.value;
          const response = await fresh.inject({ method: method.toUpperCase() as 'GET', url, ...(body === undefined ? {} : { payload: body as object }) });
          if (response.statusCode >= 400) failed.push(`${method.toUpperCase()} ${url}: ${response.statusCode} ${response.body.slice(0, 200)}`);
        }
      }
      expect(failed).toEqual([]);
    } finally {
      await fresh.close();
    }
  });

  it('documents the service, live and diagnostics answers', async () => {
    for (const url of ['/healthz', '/readyz', '/schema', '/live/snapshot']) expect(await check('GET', url)).toBe(200);
    expect(await check('GET', '/live/snapshot?min_score=high')).toBe(400);
    expect(await check('POST', '/counterfactual', { input_marking: { p_application: 0.9 }, target_transition: 't_approve', flip_place: 'p_application' })).toBe(200);
    expect(await check('POST', '/counterfactual', { input_marking: { p_application: 0.9 }, target_transition: 't_nowhere', flip_place: 'p_application' })).toBe(400);
    expect(await check('POST', '/sensitivity', { input_marking: { p_application: 0.9 }, target_transition: 't_approve' })).toBe(200);
  });
});
