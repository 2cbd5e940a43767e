import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parse } from 'yaml';
import type { App } from '../src/app.js';
import { ENDINGS } from '../src/cases/case-errors.js';
import { netFromSidecar } from '../src/bundle/net-from-sidecar.js';
import type { Sidecar } from '../src/bundle/sidecar-schema.js';
import { bundleExamples, crossingExample, crossingProbes } from '../src/schemas/bundle-examples.js';
import { committedOpenApi, renderOpenApi } from '../src/openapi.js';
import { testApp } from './helpers/app.js';
import { modelPath, ROOT } from './helpers/fixtures.js';

describe('OpenAPI document and Swagger UI', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('openapi.yaml is what the app generates (run `npm run openapi` after changing a route or schema)', () => {
    expect(committedOpenApi(ROOT)).toBe(renderOpenApi(app));
  });

  it('documents every route the app serves, each with a summary', () => {
    const doc = parse(committedOpenApi(ROOT)) as { paths: Record<string, Record<string, { summary?: string }>> };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    for (const route of ['POST /anomaly', 'POST /anomaly/batch', 'POST /forward', 'GET /schema', 'GET /healthz', 'GET /readyz', 'POST /cases/{id}/events', 'GET /cases/{id}', 'POST /cases/{id}/close', 'GET /cases', 'POST /events']) {
      expect(documented).toContain(route);
    }
    for (const ops of Object.values(doc.paths)) for (const op of Object.values(ops)) expect(op.summary).toBeTruthy();
  });

  it("names every way a case ends in the description of x-petrascore-reopened, as the header's enum lists them", () => {
    const doc = parse(committedOpenApi(ROOT)) as { paths: Record<string, Record<string, { description?: string }>> };
    const description = doc.paths['/cases/{id}/events']!.post!.description!;
    for (const ending of ENDINGS) expect(description).toContain(ending);
  });

  it('names every operation once (operationId), so that generated clients have stable method names', () => {
    const doc = parse(committedOpenApi(ROOT)) as { paths: Record<string, Record<string, { operationId?: string }>> };
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, id: op.operationId })));
    expect(operations.filter((o) => typeof o.id !== 'string' || !/^[a-z][A-Za-z]+$/.test(o.id)).map((o) => o.at)).toEqual([]);
    expect(new Set(operations.map((o) => o.id)).size).toBe(operations.length);
  });

  it('writes a union of literals as one enum and a union with null as nullable branches, gives every operation a default response (the one error body), and declares x-request-id on every response', () => {
    const text = committedOpenApi(ROOT);
    const doc = parse(text) as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> };
    const literalUnions: string[] = [];
    const visit = (node: unknown, at: string): void => {
      if (Array.isArray(node)) node.forEach((item, i) => visit(item, `${at}/${i}`));
      else if (typeof node === 'object' && node !== null) {
        const anyOf = (node as { anyOf?: unknown[] }).anyOf;
        if (anyOf?.every((b) => Array.isArray((b as { enum?: unknown[] }).enum) && (b as { enum: unknown[] }).enum.length === 1)) literalUnions.push(at);
        // A null branch in a union (an extra "object" type to generators): the other branches are nullable instead.
        if (anyOf?.some((b) => (b as { enum?: unknown[] }).enum?.[0] === null)) literalUnions.push(`${at} (null branch)`);
        for (const [key, value] of Object.entries(node)) visit(value, `${at}/${key}`);
      }
    };
    visit(doc, '');
    expect(literalUnions).toEqual([]);
    expect(text).toMatch(/strategy:\n(?:.*\n)*?\s+type: string\n\s+enum:\n\s+- bisection\n\s+- nearest\n/);
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          expect((response as { headers?: Record<string, unknown> }).headers?.['x-request-id'], `${method} ${path} ${status}`).toMatchObject({ schema: { type: 'string' } });
        }
        // A HEAD answer has no body to describe, but HEAD too answers statuses it does not list (414, 405).
        if (method === 'head') expect(operation.responses.default).toEqual({ description: expect.any(String), headers: { 'x-request-id': expect.anything() } });
        else expect(operation.responses.default?.content?.['application/json']?.schema, `${method} ${path}`).toEqual({ $ref: '#/components/schemas/ErrorBody' });
      }
    }
  });

  it("declares the live feed's ids int64 (they exceed a 32-bit integer from the first event on)", async () => {
    const snapshot = (await app.inject({ method: 'GET', url: '/live/snapshot' })).json<{ id: number }>();
    expect(snapshot.id).toBeGreaterThan(2 ** 31);
    const doc = parse(committedOpenApi(ROOT)) as { components: { schemas: Record<string, { properties?: Record<string, { format?: string }> }> } };
    const ids = Object.entries(doc.components.schemas).flatMap(([name, schema]) => Object.entries(schema.properties ?? {}).flatMap(([key, property]) => (['id', 'evaluation_id', 'oldest'].includes(key) ? [`${name}.${key} ${property.format}`] : [])));
    expect(ids.length).toBeGreaterThan(5);
    expect(ids.filter((id) => !id.endsWith(' int64'))).toEqual([]);
  });

  it('declares no body for a redirect, and each response header as a plain schema', () => {
    type Response = { content?: unknown; headers?: Record<string, { schema?: Record<string, unknown> }> };
    const doc = parse(committedOpenApi(ROOT)) as { paths: Record<string, Record<string, { responses: Record<string, Response> }>> };
    const redirect = doc.paths['/dashboard']!.get!.responses['302']!;
    expect(redirect.content).toBeUndefined();
    expect(redirect.headers?.location?.schema).toEqual({ type: 'string' });
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, response] of Object.entries(op.responses)) {
          for (const [name, header] of Object.entries(response.headers ?? {})) expect(header.schema?.schema, `${method} ${path} ${status} ${name}`).toBeUndefined();
        }
      }
    }
  });

  it('serves Swagger UI at /docs and the document at /docs/json', async () => {
    const ui = await app.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    const json = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(json.json().paths['/anomaly'].post.summary).toMatch(/Score one whole trace/);
  });

  it('every request example in the document is accepted by its route on the default model', async () => {
    expect((await sendExamples(app)).length).toBeGreaterThan(4);
  });

  it('documents an /anomaly/batch item as an /anomaly body, while a bad item still gets its own error entry', async () => {
    type Body = { requestBody: { content: { 'application/json': { schema: { properties: Record<string, { items?: unknown }> } } } } };
    const doc = app.swagger() as unknown as { paths: Record<string, { post: Body }> };
    const schemaOf = (path: string) => doc.paths[path]!.post.requestBody.content['application/json'].schema;
    const { example: _example, ...anomalyBody } = schemaOf('/anomaly') as { example?: unknown };
    const { example: _itemExample, ...item } = schemaOf('/anomaly/batch').properties.traces!.items as { example?: unknown };
    expect(item).toEqual(anomalyBody);

    const response = await app.inject({ method: 'POST', url: '/anomaly/batch', payload: { traces: [{ events: 'none' }, { input_marking: { p_application: 0.9 }, events: [] }] } });
    expect(response.statusCode).toBe(200);
    const { results } = response.json() as { results: { index: number; error?: { message: string } }[] };
    expect(results[0]!.error!.message).toMatch(/^body\/traces\/0\/events/);
    expect(results[1]!.error).toBeUndefined();
  });

  it('documents the 413 and 415 a route without a body schema answers to a body it refuses (a DELETE reads one too)', async () => {
    const small = await testApp({ bodyLimit: 1024 });
    onTestFinished(() => small.close());
    const doc = parse(committedOpenApi(ROOT)) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    const refusals = [
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b', status: 415 },
      { headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ a: 'x'.repeat(2048) }), status: 413 },
    ];
    for (const [method, path] of [['DELETE', '/cases/{id}'], ['POST', '/cases/{id}/close']] as const) {
      for (const { headers, payload, status } of refusals) {
        const response = await small.inject({ method, url: path.replace('{id}', 'c1'), headers, payload });
        expect(response.statusCode, `${method} ${path}: ${response.body}`).toBe(status);
        expect(Object.keys(doc.paths[path]![method.toLowerCase()]!.responses), `${method} ${path}`).toContain(String(status));
      }
    }
  });
});

/** Sends every request example of the served document to its route, expecting each accepted; returns them. */
async function sendExamples(app: App): Promise<unknown[]> {
  const doc = app.swagger() as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { example?: unknown; examples?: Record<string, { value: unknown }> }> } }>> };
  const sent: unknown[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const media = op.requestBody?.content['application/json'];
      const values = [...Object.values(media?.examples ?? {}).map((e) => e.value), ...(media?.example !== undefined ? [media.example] : [])];
      if (media !== undefined) expect(values.length, `${method} ${path} has no request example`).toBeGreaterThan(0);
      // Swagger UI's picker names examples by their summary, else example1, example2…
      if (values.length > 1) for (const [name, example] of Object.entries(media?.examples ?? {})) expect((example as { summary?: string }).summary, `${method} ${path} ${name} says what it shows`).toBeTruthy();
      for (const value of values) {
        const url = path.replace('{id}', 'example-case');
        const response = await app.inject({ method: method.toUpperCase() as 'POST', url, payload: value as object });
        expect(response.statusCode, `${method} ${path} ${JSON.stringify(value)}: ${response.body}`).toBeLessThan(300);
        sent.push(value);
      }
    }
  }
  return sent;
}

describe.each(['credit_approval_coloured', 'incident_management', 'compliance_audit', 'scale_200'])("Swagger UI's examples served with the %s bundle", (name) => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ bundle: modelPath(name), alertThreshold: 1000 });
  });
  afterAll(async () => app.close());

  it("are made from the bundle (its places and labels, not the default bundle's), and each is accepted by its route", async () => {
    const sent = JSON.stringify(await sendExamples(app));
    expect(sent).not.toMatch(/p_application|risk_score/);
    const place = [...app.petra.net.markingSlot.keys()][0]!;
    expect(sent).toContain(`"input_marking":{"${place}":1}`);
    // Every event name an example sends is a label of this bundle.
    const names: string[] = [];
    JSON.parse(sent, (key, value: unknown) => {
      if (key === 'name' && typeof value === 'string') names.push(value);
      return value;
    });
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((n) => !app.petra.net.labelColumn.has(n))).toEqual([]);
    // What Swagger UI loads.
    expect((await app.inject({ method: 'GET', url: '/docs/json' })).body).toContain(`"input_marking":{"${place}":1}`);
  });

  it('give /counterfactual an example that finds a crossing of 0.5, where an input of the bundle crosses one', async () => {
    const doc = JSON.parse((await app.inject({ method: 'GET', url: '/docs/json' })).body) as { paths: Record<string, { post: { requestBody: { content: Record<string, { examples: Record<string, { value: object }> }> } } }> };
    const [example] = Object.values(doc.paths['/counterfactual']!.post.requestBody.content['application/json']!.examples);
    const answer = (await app.inject({ method: 'POST', url: '/counterfactual', payload: example!.value })).json<{ found: boolean; search: { flips_decision: boolean } }>();
    // incident_management's transitions cross 0.5 along none of its inputs: every search there answers found: false.
    expect(answer.found).toBe(name !== 'incident_management');
  });

  it('are written out in /docs/yaml, without YAML anchors and aliases', async () => {
    const yaml = (await app.inject({ method: 'GET', url: '/docs/yaml' })).body;
    expect(yaml).toContain(`${[...app.petra.net.markingSlot.keys()][0]!}: 1`);
    expect(yaml).not.toMatch(/(?::|-) [&*]a\d+\b/);
  });
});

describe("Swagger UI's /counterfactual example", () => {
  it("is the first probe whose range's ends lie on opposite sides of 0.5 (PETRA's bisection answers found: false otherwise)", () => {
    const sidecar = JSON.parse(readFileSync(`${modelPath('credit_approval_coloured')}.meta.json`, 'utf8')) as Sidecar;
    const { net } = netFromSidecar(sidecar);
    const probes = crossingProbes(net);
    expect(probes.map((p) => `${p.flip_channel} ${p.flip_place} ${p.search_range.join('–')}`)).toEqual(['marking p_submitted 0–1', 'value p_submitted 0–1', 'value p_submitted 0–100', 'value p_submitted 0–10000', 'value p_submitted 0–1000000']);
    const at = (approve: number) => Object.fromEntries(net.outputs.map((t) => [t, t === 't_approve' ? approve : 0.1]));
    // Below 0.5 at both ends of the first two ranges, though a curve between them may rise above it.
    const activations = [[at(0.3), at(0.2)], [at(0.45), at(0.45)], [at(0.9), at(0.1)], [at(0.9), at(0.1)], [at(0.9), at(0.1)]];
    expect(crossingExample(net, probes, activations)).toEqual({ input_marking: { p_submitted: 1 }, input_values: { p_submitted: 0 }, flip_place: 'p_submitted', flip_channel: 'value', target_transition: 't_approve', search_range: [0, 100] });
    expect(crossingExample(net, probes, probes.map(() => [at(0.3), at(0.2)]))).toBeUndefined();
  });
});

describe("Swagger UI's examples for a net whose inputs are all on the value channel", () => {
  it('flip a value place in the counterfactual example (not the written one, which names loan_approval), and its route takes that', async () => {
    // credit_approval_coloured without its marking input: no bundle of the fixtures is so, and only the sidecar is needed.
    const sidecar = JSON.parse(readFileSync(`${modelPath('credit_approval_coloured')}.meta.json`, 'utf8')) as Sidecar;
    const { net } = netFromSidecar({ ...sidecar, input_marking_places: [], input_marking_spec: {}, onnx_input_names: ['value__p_submitted'], input_defaults: { value__p_submitted: 1 } });
    const [example] = bundleExamples(net, ['approve loan'])['post /counterfactual']!;
    expect(example).toEqual({ input_marking: {}, input_values: { p_submitted: 1 }, flip_place: 'p_submitted', flip_channel: 'value', target_transition: 't_approve' });
    // The same request on the real bundle, where p_submitted is a value place too.
    const app = await testApp({ bundle: modelPath('credit_approval_coloured') });
    onTestFinished(() => app.close());
    const response = await app.inject({ method: 'POST', url: '/counterfactual', payload: example as object });
    expect(response.statusCode, response.body).toBe(200);
  });
});
