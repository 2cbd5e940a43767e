import { gzipSync } from 'node:zlib';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { App } from '../../src/app.js';
import { testApp } from '../helpers/app.js';
import { modelPath } from '../helpers/fixtures.js';
import { sendRaw } from '../helpers/raw-http.js';
import { listening } from '../live/helpers.js';
import type { ErrorBody } from '../../src/schemas/common.js';

interface Score {
  trace_score: number;
  per_transition_residuals: Record<string, number>;
  ignored_inputs?: string[];
}

type BatchItem = ({ index: number } & Score) | { index: number; error: ErrorBody };

const JSON_TYPE = { 'content-type': 'application/json' };

/** The uniform error contract: the status asked for, a JSON body with exactly {error, message, details}, never a 5xx. */
function expectError(response: LightMyRequestResponse, status: number, error: string): ErrorBody {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = response.json<ErrorBody>();
  expect(Object.keys(body).sort()).toEqual(['details', 'error', 'message']);
  expect(body.error).toBe(error);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  expect(Array.isArray(body.details)).toBe(true);
  for (const detail of body.details) {
    expect(Object.keys(detail).sort()).toEqual(['message', 'path']);
    expect(typeof detail.path).toBe('string');
    expect(typeof detail.message).toBe('string');
  }
  return body;
}

/** A 400 validation error located at `path`: the message starts with the path, and a detail carries it. */
function expectValidationError(response: LightMyRequestResponse, path: string): ErrorBody {
  const body = expectError(response, 400, 'validation_error');
  expect(body.message.startsWith(`${path}: `), body.message).toBe(true);
  expect(body.details.map((d) => d.path)).toContain(path);
  return body;
}

describe('client mistakes on the default model get 4xx JSON errors that say what and where', () => {
  let app: App;

  const post = (url: string, payload: unknown): Promise<LightMyRequestResponse> => app.inject({ method: 'POST', url, payload: payload as InjectOptions['payload'] });
  const postRaw = (url: string, payload: string, headers: Record<string, string> = JSON_TYPE): Promise<LightMyRequestResponse> => app.inject({ method: 'POST', url, payload, headers });

  async function score(body: unknown): Promise<Score> {
    const response = await post('/anomaly', body);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<Score>();
  }

  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  describe('bodies that are not JSON', () => {
    it('answers malformed JSON with 400 malformed_json and the parser’s reason', async () => {
      const truncated = expectError(await postRaw('/anomaly', '{"events": ['), 400, 'malformed_json');
      expect(truncated.message).toBe('body is not valid JSON: Unexpected end of JSON input');
      expect(truncated.details).toEqual([{ path: 'body', message: 'Unexpected end of JSON input' }]);

      // The reason shows where: the offending token.
      const badToken = expectError(await postRaw('/anomaly', '{"events": [}'), 400, 'malformed_json');
      expect(badToken.message).toMatch(/^body is not valid JSON: .*'\}'/);

      const trailingComma = expectError(await postRaw('/cases/c/events', '{"name": "approve loan",}'), 400, 'malformed_json');
      expect(trailingComma.details[0]!.path).toBe('body');
    });

    it('refuses a body that is not UTF-8 instead of reading its bytes as U+FFFD; UTF-8 and an escaped U+FFFD pass', async () => {
      const latin1 = Buffer.from('{"name": "approve loan", "attributes": {"channel": "caf\u00e9"}}', 'latin1');
      const refused = await app.inject({ method: 'POST', url: '/cases/enc/events', payload: latin1, headers: JSON_TYPE });
      const body = expectError(refused, 400, 'malformed_json');
      expect(body.message).toContain('not valid UTF-8');
      expect((await app.inject({ method: 'GET', url: '/cases/enc' })).statusCode).toBe(404);
      const utf8 = Buffer.from('{"name": "approve loan", "attributes": {"channel": "caf\u00e9 \\ufffd"}}', 'utf8');
      expect((await app.inject({ method: 'POST', url: '/cases/enc/events', payload: utf8, headers: JSON_TYPE })).statusCode).toBe(202);
    });

    it('answers 415 naming a declared charset other than UTF-8 when the body is not UTF-8; ASCII declared as Latin-1 is read', async () => {
      const event = '{"name": "approve loan", "attributes": {"channel": "caf\u00e9"}}';
      const latin1 = await app.inject({ method: 'POST', url: '/cases/charset/events', payload: Buffer.from(event, 'latin1'), headers: { 'content-type': 'application/json; charset=ISO-8859-1' } });
      const refused = expectError(latin1, 415, 'unsupported_media_type');
      expect(refused.message).toContain('charset "ISO-8859-1"');
      expect(refused.details).toEqual([{ path: 'headers/content-type', message: 'only charset utf-8 is supported' }]);
      // UTF-16 text is valid UTF-8 byte by byte (ASCII with NULs): it fails as JSON, and the charset says why.
      const utf16 = await app.inject({ method: 'POST', url: '/anomaly', payload: Buffer.from('{"events": []}', 'utf16le'), headers: { 'content-type': 'application/json; charset="utf-16"' } });
      expect(expectError(utf16, 415, 'unsupported_media_type').message).toContain('charset "utf-16"');
      const ascii = await app.inject({ method: 'POST', url: '/cases/charset/events', payload: '{"name": "approve loan"}', headers: { 'content-type': 'application/json; charset=iso-8859-1' } });
      expect(ascii.statusCode, ascii.body).toBe(202);
      const utf8 = await app.inject({ method: 'POST', url: '/anomaly', payload: '{"events": [}', headers: { 'content-type': 'application/json; charset=UTF-8' } });
      expectError(utf8, 400, 'malformed_json');
      // Malformed JSON in ASCII (or in UTF-8) is malformed JSON whatever charset it declares: its syntax error says where.
      for (const [payload, charset] of [['{"events": [}', 'iso-8859-1'], ['{"events": [}', 'us-ascii'], ['{"events": [{"name": "caf\u00e9"}', 'windows-1252']]) {
        const malformed = await app.inject({ method: 'POST', url: '/anomaly', payload, headers: { 'content-type': `application/json; charset=${charset}` } });
        expect(expectError(malformed, 400, 'malformed_json').message, charset).not.toContain('UTF-8');
      }
      await app.inject({ method: 'DELETE', url: '/cases/charset' });
    });

    describe('U+FFFD sent as UTF-8 (EF BF BD) is a character like any other; bytes that are not UTF-8 are refused', () => {
      const LITERAL = Buffer.from([0xef, 0xbf, 0xbd]);
      /** A JSON body with `bytes` inside a string: `before` and `after` are UTF-8 text around them. */
      const withBytes = (before: string, bytes: Buffer, after: string): Buffer => Buffer.concat([Buffer.from(before, 'utf8'), bytes, Buffer.from(after, 'utf8')]);
      const send = (url: string, payload: Buffer): Promise<LightMyRequestResponse> => app.inject({ method: 'POST', url, payload, headers: JSON_TYPE });
      const anomaly = (customer: Buffer): Buffer => withBytes('{"events":[{"name":"approve loan"}],"attributes":{"risk_score":"0.9","customer":"M', customer, 'ller"}}');
      const routes = [
        { url: '/anomaly', body: anomaly, status: 200 },
        { url: '/anomaly/batch', body: (b: Buffer) => withBytes('{"traces":[{"events":[],"attributes":{"risk_score":"0.9","customer":"M', b, 'ller"}}]}'), status: 200 },
        { url: '/cases/fffd/events', body: (b: Buffer) => withBytes('{"name":"approve loan","attributes":{"customer":"M', b, 'ller"}}'), status: 202 },
        { url: '/events', body: (b: Buffer) => withBytes('{"events":[{"case_id":"fffd-stream","name":"approve loan","attributes":{"customer":"M', b, 'ller"}}]}'), status: 200 },
      ];

      it('accepts a literal U+FFFD on every route that takes a body, and /anomaly scores it', async () => {
        for (const route of routes) {
          const response = await send(route.url, route.body(LITERAL));
          expect(response.statusCode, `${route.url}: ${response.body}`).toBe(route.status);
        }
        // Scored as the same trace without it (customer is no input), and read as the character itself: quoted back.
        expect((await send('/anomaly', anomaly(LITERAL))).json<Score>()).toEqual(await score({ events: [{ name: 'approve loan' }], attributes: { risk_score: '0.9' } }));
        const quoted = await send('/anomaly', withBytes('{"events":[],"attributes":{"risk_score":"0.9', LITERAL, '"}}'));
        expect(quoted.statusCode, quoted.body).toBe(422);
        expect(quoted.json<ErrorBody>().message).toContain('"0.9\uFFFD"');
        await app.inject({ method: 'DELETE', url: '/cases/fffd' });
        await app.inject({ method: 'DELETE', url: '/cases/fffd-stream' });
      });

      it('refuses a lone 0xFF, a Latin-1 "ü", and invalid bytes next to a literal U+FFFD, with the same message everywhere', async () => {
        for (const bytes of [Buffer.from([0xff]), Buffer.from([0xfc]), Buffer.concat([LITERAL, Buffer.from([0xfc])])]) {
          for (const route of routes) {
            const body = expectError(await send(route.url, route.body(bytes)), 400, 'malformed_json');
            expect(body.message).toContain('it is not valid UTF-8, which JSON must be (RFC 8259)');
            expect(body.message).toContain('Latin-1');
          }
        }
        // Nothing was applied.
        expect((await app.inject({ method: 'GET', url: '/cases/fffd' })).statusCode).toBe(404);
        expect((await app.inject({ method: 'GET', url: '/cases/fffd-stream' })).statusCode).toBe(404);
      });
    });

    it('refuses prototype-poisoning keys as malformed JSON, saying which key', async () => {
      const proto = expectError(await postRaw('/anomaly', '{"events": [], "attributes": {"__proto__": {"risk_score": "0.9"}}}'), 400, 'malformed_json');
      expect(proto.message).toContain('__proto__');
      // Valid JSON refused on purpose is not called invalid.
      expect(proto.message.startsWith('body is refused: it is valid JSON')).toBe(true);
      const ctor = expectError(await postRaw('/cases/c/events', '{"name": "x", "attributes": {"constructor": {"prototype": {"a": 1}}}}'), 400, 'malformed_json');
      expect(ctor.message).toContain('constructor');
      expect((await app.inject({ method: 'GET', url: '/cases/c' })).statusCode).toBe(404);
    });

    it('answers an empty body with a JSON content type with 400 empty_body', async () => {
      const body = expectError(await postRaw('/anomaly', ''), 400, 'empty_body');
      expect(body.details).toEqual([{ path: 'body', message: 'is empty' }]);
      // Whitespace only is not empty but is not JSON either.
      expectError(await postRaw('/anomaly', '  \n '), 400, 'malformed_json');
    });

    it('answers a POST without any body with a validation error at body', async () => {
      const body = expectValidationError(await app.inject({ method: 'POST', url: '/anomaly' }), 'body');
      expect(body.message).toMatch(/object/);
    });

    it('answers JSON that is not an object with a validation error at body', async () => {
      for (const payload of ['[]', 'null', '42', '"events"']) {
        expectValidationError(await postRaw('/anomaly', payload), 'body');
      }
    });

    it('answers unsupported content types with 415 naming the type', async () => {
      const text = expectError(await postRaw('/anomaly', '{"events": []}', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
      expect(text.message).toContain('text/plain');
      expect(text.message).toContain('application/json');
      const form = expectError(await postRaw('/anomaly', 'events=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type');
      expect(form.message).toContain('application/x-www-form-urlencoded');
      expectError(await postRaw('/cases/c/events', '<event name="x"/>', { 'content-type': 'application/xml' }), 415, 'unsupported_media_type');
      const none = expectError(await postRaw('/events', '{"events": []}', {}), 415, 'unsupported_media_type');
      expect(none.details).toEqual([{ path: 'headers/content-type', message: 'missing' }]);
      expect(form.details).toEqual([{ path: 'headers/content-type', message: 'not application/json' }]);
    });

    it('answers a compressed body with 415 naming the encoding, not with its bytes', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/anomaly',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        payload: gzipSync('{"events": []}'),
      });
      const body = expectError(response, 415, 'unsupported_media_type');
      expect(body.message).toBe('Content-Encoding "gzip" is not supported; send the body uncompressed');
      expect(body.details).toEqual([{ path: 'headers/content-encoding', message: 'not supported' }]);
    });

    it('lets a route without a body take an empty one of any type, as curl -d "" sends it (Swagger UI shows that command)', async () => {
      expect((await post('/cases/bodiless/events', { name: 'approve loan', attributes: { risk_score: '0.7' } })).statusCode).toBe(202);
      const form = await app.inject({ method: 'POST', url: '/cases/bodiless/close', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' });
      expect(form.statusCode, form.body).toBe(200);
      expect((await post('/cases/bodiless/events', { name: 'approve loan', attributes: { risk_score: '0.7' } })).statusCode).toBe(202);
      expect((await postRaw('/cases/bodiless/close', '')).statusCode).toBe(200);
      // A body there that is not JSON is still refused.
      expect((await post('/cases/bodiless/events', { name: 'approve loan', attributes: { risk_score: '0.7' } })).statusCode).toBe(202);
      expectError(await postRaw('/cases/bodiless/close', 'a=b', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type');
      // Also a type Fastify cannot parse, which it refuses before any parser: an empty body's type describes nothing.
      for (const type of ['', 'json', 'application/json, text/plain']) {
        expect((await post('/cases/bodiless/events', { name: 'approve loan', attributes: { risk_score: '0.7' } })).statusCode).toBe(202);
        const close = await postRaw('/cases/bodiless/close', '', { 'content-type': type });
        expect(close.statusCode, `${JSON.stringify(type)}: ${close.body}`).toBe(200);
        expect((await app.inject({ method: 'DELETE', url: '/cases/bodiless', headers: { 'content-type': type }, payload: '' })).statusCode).toBe(404);
      }
      // With a body, that type is still a 415 naming it.
      expect((await post('/cases/bodiless/events', { name: 'approve loan', attributes: { risk_score: '0.7' } })).statusCode).toBe(202);
      const typed = expectError(await postRaw('/cases/bodiless/close', '{}', { 'content-type': 'json' }), 415, 'unsupported_media_type');
      expect(typed.message).toContain('"json"');
    });

    it('accepts application/json with a charset parameter', async () => {
      const response = await postRaw('/anomaly', '{"events": [], "input_marking": {"p_application": 1}}', { 'content-type': 'application/json; charset=utf-8' });
      expect(response.statusCode, response.body).toBe(200);
    });
  });

  describe('wrong types, with the field path in message and details', () => {
    const cases: { what: string; url: string; payload: unknown; path: string; mentions: string }[] = [
      { what: 'events not an array', url: '/anomaly', payload: { events: 3 }, path: 'body/events', mentions: 'got 3' },
      { what: 'events a string', url: '/anomaly', payload: { events: 'approve loan' }, path: 'body/events', mentions: '"approve loan"' },
      { what: 'events missing', url: '/anomaly', payload: { input_marking: {} }, path: 'body/events', mentions: 'required' },
      { what: 'an input_marking value that is an object', url: '/anomaly', payload: { events: [], input_marking: { p_application: { value: 1 } } }, path: 'body/input_marking/p_application', mentions: 'got an object' },
      { what: 'a /forward input_values value that is an array', url: '/forward', payload: { input_marking: {}, input_values: { p_application: [1] } }, path: 'body/input_values/p_application', mentions: 'got an array' },
      { what: 'input_marking an array', url: '/anomaly', payload: { events: [], input_marking: [0.9] }, path: 'body/input_marking', mentions: 'got an array' },
      { what: 'an input_values value that is null', url: '/anomaly', payload: { events: [], input_values: { p_application: null } }, path: 'body/input_values/p_application', mentions: 'got null' },
      { what: 'an event name that is a number', url: '/anomaly', payload: { events: [{ name: 'approve loan' }, { name: 5 }] }, path: 'body/events/1/name', mentions: 'got 5' },
      { what: 'an event without a name', url: '/anomaly', payload: { events: [{ attributes: {} }] }, path: 'body/events/0/name', mentions: 'required' },
      { what: 'a key with a slash, escaped as a JSON pointer', url: '/anomaly', payload: { events: [], input_marking: { 'a/b~c': [] } }, path: 'body/input_marking/a~1b~0c', mentions: 'got an array' },
      { what: '/forward without input_marking', url: '/forward', payload: { input_values: {} }, path: 'body/input_marking', mentions: 'required' },
      { what: 'a case event name that is a number', url: '/cases/c/events', payload: { name: 7 }, path: 'body/name', mentions: 'got 7' },
      { what: 'a case event timestamp that is an object', url: '/cases/c/events', payload: { name: 'x', timestamp: {} }, path: 'body/timestamp', mentions: 'got an object' },
      { what: 'case event attributes that are a list', url: '/cases/c/events', payload: { name: 'x', attributes: ['risk_score'] }, path: 'body/attributes', mentions: 'got an array' },
      { what: 'a stream event case_id that is a number', url: '/events', payload: { events: [{ case_id: 'a', name: 'x' }, { case_id: 7, name: 'x' }] }, path: 'body/events/1/case_id', mentions: 'got 7' },
      { what: 'batch traces not an array', url: '/anomaly/batch', payload: { traces: {} }, path: 'body/traces', mentions: 'got an object' },
    ];

    it.each(cases)('$what → 400 at $path', async ({ url, payload, path, mentions }) => {
      const body = expectValidationError(await post(url, payload), path);
      expect(body.message).toContain(mentions);
    });

    it('keeps structured attribute values (objects, lists) as PETRA does: ignored unless a spec reads one, which finds it not numeric', async () => {
      const structured = { applicant: { name: 'Zoë', age: 41 }, documents: ['id', 'payslip'] };
      const plain = await post('/anomaly', { events: [{ name: 'approve loan' }], attributes: { risk_score: '0.9' } });
      const withThem = await post('/anomaly', { events: [{ name: 'approve loan', attributes: structured }], attributes: { risk_score: '0.9', ...structured } });
      expect(withThem.statusCode, withThem.body).toBe(200);
      expect(withThem.body).toBe(plain.body);
      expect((await post('/cases/structured/events?score=true', { name: 'approve loan', attributes: { risk_score: '0.9', ...structured } })).statusCode).toBe(200);
      // Read by the spec: not numeric, as float(str([0.9])) fails in Python; a typed variable gets a hint.
      const list = await post('/anomaly', { events: [], attributes: { risk_score: [0.9] } });
      expect(list.statusCode).toBe(422);
      expect(list.json()).toMatchObject({ error: 'non_numeric_attribute', details: [{ path: 'body/attributes/risk_score' }] });
      expect(list.json<{ message: string }>().message).toBe("attribute 'risk_score' = \"[0.9]\" required by input_marking for place 'p_application' is not a finite number");
      const typed = await post('/anomaly', { events: [], attributes: { risk_score: { value: 0.9, type: 'Double' } } });
      expect(typed.json<{ message: string }>().message).toBe(
        "attribute 'risk_score' = \"{'value': 0.9, 'type': 'Double'}\" required by input_marking for place 'p_application' is not a finite number (a typed variable, as Camunda writes them? send its \"value\" alone)",
      );
      // A streamed case keeps the typed variable as its str(), and gets the same hint.
      const streamed = await post('/cases/typed/events?score=true', { name: 'approve loan', attributes: { risk_score: { value: 0.9, type: 'Double' } } });
      expect(streamed.statusCode, streamed.body).toBe(202);
      expect(streamed.json<{ not_scored: { message: string } }>().not_scored.message).toBe(typed.json<{ message: string }>().message);
    });

    it('quotes a deeply nested attribute value cut short: a 422, not a stack overflow, also when a case keeps it', async () => {
      // Sent as text: the test's own JSON.stringify would overflow on it.
      const deep = `${'['.repeat(6000)}0.9${']'.repeat(6000)}`;
      const json = { 'content-type': 'application/json' };
      const stateless = await postRaw('/anomaly', `{"events":[],"attributes":{"risk_score":${deep}}}`, json);
      expect(stateless.statusCode, stateless.body).toBe(422);
      expect(stateless.json<{ message: string }>().message).toMatch(/^attribute 'risk_score' = "\[+…" required by input_marking/);
      expect((await postRaw('/cases/deep/events?score=true', `{"name":"approve loan","attributes":{"risk_score":${deep}}}`, json)).statusCode).toBe(202);
      const closed = await post('/cases/deep/close', undefined);
      expect(closed.statusCode, closed.body).toBe(422);
      expect((await app.inject({ method: 'DELETE', url: '/cases/deep' })).statusCode).toBe(200);
    });

    it('says which types a union accepts instead of TypeBox’s "Expected union value"', async () => {
      const body = expectValidationError(await post('/anomaly', { events: [], input_marking: { p_application: { value: 1 } } }), 'body/input_marking/p_application');
      expect(body.message).toBe('body/input_marking/p_application: Expected a finite number, a string or a boolean, got an object');
      expect(body.message).not.toContain('union');
    });

    it('names the values a union of literals accepts', async () => {
      const body = expectValidationError(
        await post('/counterfactual', { input_marking: {}, flip_place: 'p_application', target_transition: 't_approve', flip_channel: 'colour' }),
        'body/flip_channel',
      );
      expect(body.message).toBe(`body/flip_channel: Expected 'marking' or 'value', got "colour"`);
    });

    it('reports the query string and its path', async () => {
      const limit = expectValidationError(await app.inject({ method: 'GET', url: '/cases?limit=abc' }), 'querystring/limit');
      expect(limit.message).toContain('"abc"');
      expectValidationError(await app.inject({ method: 'GET', url: '/cases?limit=0' }), 'querystring/limit');
      expectValidationError(await post('/cases/c/events?score=maybe', { name: 'x' }), 'querystring/score');
      // An integer is digits: not read parseInt-style as 1, 2 and 3.
      for (const limit of ['1e1', '2.5', '0x3', '', '10abc']) {
        const body = expectValidationError(await app.inject({ method: 'GET', url: `/cases?limit=${limit}` }), 'querystring/limit');
        expect(body.message).toContain(JSON.stringify(limit));
      }
      expect((await app.inject({ method: 'GET', url: '/cases?limit=10' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/cases?limit=%2B10' })).statusCode).toBe(200);
      // None of these created the case.
      expect((await app.inject({ method: 'GET', url: '/cases/c' })).statusCode).toBe(404);
    });

    it('reports a declared header by its name: a Last-Event-ID longer than any id, as its query form is', async () => {
      const long = '9'.repeat(65);
      const header = expectValidationError(await app.inject({ method: 'GET', url: '/live', headers: { 'last-event-id': long } }), 'headers/last-event-id');
      expect(header.message).toBe('headers/last-event-id: Expected string length less or equal to 64');
      expectValidationError(await app.inject({ method: 'GET', url: `/live?last_event_id=${long}` }), 'querystring/last_event_id');
    });

    it('reports a missing field once, not also the type its absent value lacks', async () => {
      const body = expectError(await post('/anomaly', {}), 400, 'validation_error');
      expect(body.details).toEqual([{ path: 'body/events', message: 'Expected required property' }]);
    });

    it('lists every wrong field in details', async () => {
      const body = expectError(await post('/cases/c/events', { name: 1, timestamp: [], attributes: 'x' }), 400, 'validation_error');
      expect(body.details.map((d) => d.path).sort()).toEqual(['body/attributes', 'body/name', 'body/timestamp']);
    });
  });

  describe('non-finite numbers', () => {
    it('refuses a JSON number that overflows to Infinity (1e400), with the path', async () => {
      for (const literal of ['1e400', '-1e400']) {
        const body = expectValidationError(await postRaw('/anomaly', `{"events": [], "input_marking": {"p_application": ${literal}}}`), 'body/input_marking/p_application');
        expect(body.message).toMatch(/finite/);
        expect(body.message).toContain(literal.startsWith('-') ? '-Infinity' : 'Infinity');
      }
      expectValidationError(await postRaw('/forward', '{"input_marking": {}, "input_values": {"p_application": 1e999}}'), 'body/input_values/p_application');
      expectValidationError(await postRaw('/cases/c/events', '{"name": "x", "attributes": {"risk_score": 1e400}}'), 'body/attributes/risk_score');
      expectValidationError(await postRaw('/cases/c/events', '{"name": "x", "timestamp": 1e400}'), 'body/timestamp');
    });

    it.each(['nan', 'inf', '-inf', 'Infinity', ' NaN ', '-iNfInItY'])('refuses the numeric string %j with 400 at body/input_marking/p_application', async (text) => {
      const body = expectError(await post('/anomaly', { events: [], input_marking: { p_application: text } }), 400, 'invalid_input');
      expect(body.message).toBe(`body/input_marking/p_application: must be a finite number, got ${JSON.stringify(text)}`);
      expect(body.details).toEqual([{ path: 'body/input_marking/p_application', message: `must be a finite number, got ${JSON.stringify(text)}` }]);
    });

    it('quotes a long refused value shortened, so that a 1 MB value does not make a 2 MB answer', async () => {
      const response = await post('/anomaly', { events: [], input_marking: { p_application: '1'.repeat(1_000_000) + 'x' } });
      const body = expectError(response, 400, 'invalid_input');
      expect(body.details).toEqual([{ path: 'body/input_marking/p_application', message: `must be a number, got "${'1'.repeat(60)}…"` }]);
      expect(response.body.length).toBeLessThan(1000);
    });

    it('refuses non-finite numeric strings on /forward and in input_values too', async () => {
      const forward = expectError(await post('/forward', { input_marking: { p_application: 'inf' } }), 400, 'invalid_input');
      expect(forward.details[0]!.path).toBe('body/input_marking/p_application');
      const values = expectError(await post('/anomaly', { events: [], input_marking: {}, input_values: { p_other: '-nan' } }), 400, 'invalid_input');
      expect(values.details[0]!.path).toBe('body/input_values/p_other');
    });

    it('refuses numbers beyond float32 (the model would be fed ±Infinity), on scoring and the diagnostics', async () => {
      for (const value of [1e39, -1e39, '1e39', '-3.5e38']) {
        const body = expectError(await post('/anomaly', { events: [], input_marking: { p_application: value } }), 400, 'invalid_input');
        expect(body.details).toEqual([{ path: 'body/input_marking/p_application', message: `must be within ±3.4e38 (the model's inputs are float32), got ${JSON.stringify(value)}` }]);
      }
      const sensitivity = expectError(await post('/sensitivity', { input_marking: { p_application: -1e39 }, target_transition: 't_approve' }), 400, 'invalid_input');
      expect(sensitivity.details[0]!.path).toBe('body/input_marking/p_application');
      const all = expectError(await post('/sensitivity', { input_marking: { p_application: '1e39' }, target_transition: 't_approve', all: true }), 400, 'invalid_input');
      expect(all.details[0]!.path).toBe('body/input_marking/p_application');
      const counterfactual = expectError(
        await post('/counterfactual', { input_marking: { p_application: 1e39 }, flip_place: 'p_application', target_transition: 't_approve' }),
        400,
        'invalid_input',
      );
      expect(counterfactual.details[0]!.path).toBe('body/input_marking/p_application');
      // The largest float32 itself is fed as it is.
      expect((await post('/anomaly', { events: [], input_marking: { p_application: 3.4028234663852886e38 } })).statusCode).toBe(200);
    });

    it('refuses strings Python’s float() would not read', async () => {
      for (const text of ['', ' ', 'abc', '0x10', '1,5', '1__0', '_1', '1e', 'True']) {
        const body = expectError(await post('/anomaly', { events: [], input_marking: { p_application: text } }), 400, 'invalid_input');
        expect(body.message).toBe(`body/input_marking/p_application: must be a number, got ${JSON.stringify(text)}`);
      }
    });
  });

  describe('numeric strings as Python float() reads them', () => {
    it('scores "0.9", " 9e-1 ", "+.9" and "0.90\\n" exactly as the number 0.9', async () => {
      const events = [{ name: 'approve loan' }];
      const reference = await score({ events, input_marking: { p_application: 0.9 } });
      for (const text of ['0.9', ' 9e-1 ', '+.9', '0.90\n', '\t0.9']) {
        expect(await score({ events, input_marking: { p_application: text } }), JSON.stringify(text)).toEqual(reference);
      }
      // The reference is not a constant: another marking gives another score.
      expect(await score({ events, input_marking: { p_application: 0.1 } })).not.toEqual(reference);
    });

    it('reads digit-group underscores as Python does ("1_0" is 10)', async () => {
      const ten = await score({ events: [], input_marking: { p_application: 10 } });
      expect(await score({ events: [], input_marking: { p_application: '1_0' } })).toEqual(ten);
      expect(await score({ events: [], input_marking: { p_application: '0.5' } })).not.toEqual(ten);
    });
  });

  describe('empty event names', () => {
    it('refuses an empty name on /cases/:id/events with 400 at body/name, and creates no case', async () => {
      const body = expectValidationError(await post('/cases/empty-name/events', { name: '', attributes: { risk_score: '0.9' } }), 'body/name');
      expect(body.message).toContain('""');
      expect((await app.inject({ method: 'GET', url: '/cases/empty-name' })).statusCode).toBe(404);
    });

    it('refuses an empty name on /events at the event’s path, and applies none of the events', async () => {
      expectValidationError(await post('/events', { events: [{ case_id: 'e1', name: 'approve loan' }, { case_id: 'e1', name: '' }] }), 'body/events/1/name');
      expect((await app.inject({ method: 'GET', url: '/cases/e1' })).statusCode).toBe(404);
    });

    it('accepts "" on /anomaly as PETRA does: a name that matches no label, ignored and listed as ignored', async () => {
      const withEmpty = await score({ events: [{ name: '' }, { name: 'decline loan' }], input_marking: { p_application: 0.3 } });
      const without = await score({ events: [{ name: 'decline loan' }], input_marking: { p_application: 0.3 } });
      expect(withEmpty).toEqual({ ...without, ignored_inputs: ['/events/0/name'] });
    });

    it('lists the body fields it does not know (a misspelt one is otherwise silent when the trace can be scored), before the events', async () => {
      const known = await score({ events: [{ name: 'Decline loan' }], input_marking: { p_application: 0.3 } });
      const misspelt = await score({ events: [{ name: 'Decline loan' }], input_marking: { p_application: 0.3 }, attribute: { risk_score: '0.3' }, 'a/b': 1 });
      expect(misspelt).toEqual({ ...known, ignored_inputs: ['/attribute', '/a~1b', '/events/0/name'] });
      const batch = (await post('/anomaly/batch', { traces: [{ events: [], input_marking: { p_application: 0.3 }, inputMarking: {} }] })).json<{ results: { ignored_inputs?: string[] }[] }>();
      expect(batch.results[0]!.ignored_inputs).toEqual(['/inputMarking']);
    });

    it('lists them on /forward too, where a misspelt input_values was silently fed its defaults', async () => {
      const known = (await post('/forward', { input_marking: { p_application: 0.3 } })).json<{ transition_activations: Record<string, number> }>();
      const misspelt = await post('/forward', { input_marking: { p_application: 0.3, p_unknown: 1 }, inputValues: { p_application: 2 }, 'a/b': 1 });
      expect(misspelt.statusCode).toBe(200);
      expect(misspelt.json()).toEqual({ ...known, ignored_inputs: ['/input_marking/p_unknown', '/inputValues', '/a~1b'] });
    });

    it('lists the events whose name matches no label, after the unknown input keys', async () => {
      const mismatched = await score({ events: [{ name: 'Approve Loan' }, { name: 'decline loan' }, { name: 'approve loan ' }], input_marking: { p_application: 0.3, p_other: 1 } });
      const exact = await score({ events: [{ name: 'decline loan' }], input_marking: { p_application: 0.3 } });
      expect(mismatched).toEqual({ ...exact, ignored_inputs: ['/input_marking/p_other', '/events/0/name', '/events/2/name'] });
    });
  });

  describe('routes and methods', () => {
    it('answers unknown routes with 404 not_found naming method and path', async () => {
      for (const [method, url] of [
        ['GET', '/nope'],
        ['POST', '/anomaly/nope'],
        ['GET', '/cases/a/b/c'],
        ['POST', '/score'],
      ] as const) {
        const body = expectError(await app.inject({ method, url }), 404, 'not_found');
        expect(body.message).toContain(`${method} ${url}`);
        expect(body.details).toEqual([{ path: 'url', message: 'no such route' }]);
      }
      // A file the dashboard does not have: its route takes GET, so this is a 404, not a 405.
      expectError(await app.inject({ method: 'GET', url: '/dashboard/nope.js' }), 404, 'not_found');
      const withQuery = expectError(await app.inject({ method: 'GET', url: '/nope?x=1' }), 404, 'not_found');
      expect(withQuery.message).toContain('GET /nope');
      expect(withQuery.message).not.toContain('x=1');
      // A long URL is quoted back shortened.
      const long = expectError(await app.inject({ method: 'GET', url: `/nope/${'n'.repeat(5000)}` }), 404, 'not_found');
      expect(long.message.length).toBeLessThan(200);
      expect(long.message).toContain('…');
    });

    it('answers a case id beyond the router’s 6,144 URL characters with a short 414 that says the limits', async () => {
      const url = `/cases/${'a'.repeat(7000)}/close`;
      const response = await app.inject({ method: 'POST', url });
      const body = expectError(response, 414, 'uri_too_long');
      expect(body.message.length).toBeLessThan(400);
      expect(body.message).toContain(`"/cases/${'a'.repeat(53)}…" (${url.length} characters)`);
      expect(body.message).toContain('a case id may have at most 512 characters');
      expect(body.message).toContain('at most 6144 characters of the URL');
      expect(body.details).toEqual([{ path: 'params/id', message: 'longer than 6144 characters of the URL' }]);
      // A URL that is not percent-encoding is quoted back shortened too.
      const bad = expectError(await app.inject({ method: 'GET', url: `/cases/${'b'.repeat(3000)}%FF` }), 400, 'bad_url');
      expect(bad.message.length).toBeLessThan(200);
      expect(bad.details).toEqual([{ path: 'url', message: 'not valid percent-encoding' }]);
    });

    it('answers a request that arrives once the server is closing with the JSON 503 shutting_down and connection: close', async () => {
      const closing = await testApp();
      onTestFinished(() => closing.close());
      // What the lifecycle's preClose hook sets when close() begins (a real close would refuse inject itself).
      closing.closing = true;
      for (const [method, url] of [['POST', '/anomaly'], ['GET', '/cases/x'], ['GET', '/healthz']] as const) {
        const response = await closing.inject({ method, url, payload: method === 'POST' ? { events: [] } : undefined });
        expect(response.statusCode, response.body).toBe(503);
        expect(response.headers.connection).toBe('close');
        expect(response.headers['x-request-id']).toBeDefined();
        expect(response.json()).toEqual({ error: 'shutting_down', message: 'the server is shutting down; send this request to another instance', details: [] });
      }
    });

    it('answers a wrong URL or method with 404 or 405 whatever its body, and counts it as unmatched', async () => {
      const unmatched = async () => {
        const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
        return [...text.matchAll(/^petrascore_http_requests_total\{[^}]*route="unmatched"[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      };
      const before = await unmatched();
      for (const [method, url, type, payload, status] of [
        ['POST', '/nonexistent', 'application/json', '{', 404],
        ['PUT', '/nonexistent', 'text/plain', 'x', 404],
        ['PUT', '/counterfactual', 'text/plain', 'x', 405],
        ['PUT', '/counterfactual', 'application/json', '{', 405],
        ['POST', '/nonexistent', 'application/json', 'x'.repeat(5 << 20), 404],
      ] as const) {
        const response = await app.inject({ method, url, headers: { 'content-type': type }, payload });
        expectError(response, status, status === 404 ? 'not_found' : 'method_not_allowed');
        expect(response.headers['x-request-id']).toBeDefined();
      }
      expect(await unmatched()).toBe(before + 5);
    });

    it.each([
      { method: 'GET', url: '/anomaly', allow: 'POST' },
      { method: 'PUT', url: '/anomaly/batch', allow: 'POST' },
      { method: 'PUT', url: '/cases/x', allow: 'DELETE, GET, HEAD' },
      { method: 'GET', url: '/cases/x/events', allow: 'POST' },
      { method: 'GET', url: '/cases/x/close', allow: 'POST' },
      { method: 'GET', url: '/events', allow: 'POST' },
      { method: 'POST', url: '/healthz', allow: 'GET, HEAD' },
      { method: 'PATCH', url: '/forward', allow: 'POST' },
    ] as const)('answers $method $url with 405 and allow: $allow', async ({ method, url, allow }) => {
      const response = await app.inject({ method, url });
      const body = expectError(response, 405, 'method_not_allowed');
      expect(response.headers.allow).toBe(allow);
      expect(body.message).toBe(`${method} is not allowed on ${url}; allowed: ${allow}`);
      expect(body.details).toEqual([{ path: 'method', message: `allowed: ${allow}` }]);
    });

    it('answers an unknown case with 404 case_not_found on GET and on close', async () => {
      const get = expectError(await app.inject({ method: 'GET', url: '/cases/never-seen' }), 404, 'case_not_found');
      expect(get.message).toContain('never-seen');
      expect(get.details).toEqual([{ path: 'params/id', message: get.message }]);
      const close = expectError(await app.inject({ method: 'POST', url: '/cases/never-seen/close' }), 404, 'case_not_found');
      expect(close.message).toContain('never-seen');
    });
  });

  describe('attributes the sidecar spec needs (input_marking omitted)', () => {
    it('answers a missing attribute with 422 missing_attribute naming attribute and place', async () => {
      for (const payload of [{ events: [{ name: 'approve loan' }] }, { events: [], attributes: { riskscore: '0.9' } }]) {
        const body = expectError(await post('/anomaly', payload), 422, 'missing_attribute');
        expect(body.message).toBe("trace missing attribute 'risk_score' required by input_marking for place 'p_application'");
        expect(body.details).toEqual([{ path: 'body/attributes/risk_score', message: body.message }]);
      }
    });

    it("points at the event that carried the attribute: /anomaly reads the trace's attributes, not its events'", async () => {
      const payload = { events: [{ name: 'approve loan' }, { name: 'decline loan', attributes: { risk_score: '0.9' } }] };
      const body = expectError(await post('/anomaly', payload), 422, 'missing_attribute');
      const petra = "trace missing attribute 'risk_score' required by input_marking for place 'p_application'";
      const hint = `"risk_score" was sent on an event, which is not read for the inputs: give it in the trace's attributes (body/attributes)`;
      expect(body.message).toBe(`${petra}; ${hint}`);
      expect(body.details).toEqual([
        { path: 'body/attributes/risk_score', message: petra },
        { path: 'body/events/1/attributes/risk_score', message: hint },
      ]);
    });

    it("shows how a Flowable/Activiti variable list ([{name, type, value}]) is written as the map a field wants", async () => {
      const variables = [{ name: 'risk_score', type: 'string', value: '0.9' }, { name: 'channel', type: 'string', value: 'web' }];
      const body = expectError(await post('/anomaly', { events: [], attributes: variables }), 400, 'validation_error');
      expect(body.message).toBe('body/attributes: Expected an object or null, got an array; a list of {name, value} variables, as Flowable and Activiti write them, goes here as one object of name → value, such as {"risk_score":"0.9"}');
      const event = expectError(await post('/cases/flowable/events', { name: 'approve loan', attributes: variables }), 400, 'validation_error');
      expect(event.details[0]!.path).toBe('body/attributes');
      expect(event.message).toContain('such as {"risk_score":"0.9"}');
      // Any other array is only that.
      expect(expectError(await post('/anomaly', { events: [], attributes: [1, 2] }), 400, 'validation_error').message).toBe('body/attributes: Expected an object or null, got an array');
    });

    it('names the body fields it ignored when the marking could not be derived: a camelCase inputMarking is the usual cause', async () => {
      const body = expectError(await post('/anomaly', { inputMarking: { p_application: 0.9 }, events: [], traceId: 'T-1' }), 422, 'missing_attribute');
      const petra = "trace missing attribute 'risk_score' required by input_marking for place 'p_application'";
      expect(body.message).toBe(`${petra}; "inputMarking" is no field of this request and was ignored (did you mean "input_marking"?); "traceId" is no field of this request and was ignored`);
      expect(body.details.map((d) => d.path)).toEqual(['body/attributes/risk_score', 'body/inputMarking', 'body/traceId']);
      // A path is a JSON pointer: a field's / and ~ are escaped.
      const escaped = expectError(await post('/anomaly', { events: [], 'a/b~c': 1 }), 422, 'missing_attribute');
      expect(escaped.details.map((d) => d.path)).toEqual(['body/attributes/risk_score', 'body/a~1b~0c']);
    });

    it.each([
      { value: 'abc', shown: '"abc"' },
      { value: true, shown: '"True"' },
      { value: null, shown: '"None"', why: ' (JSON null, which PETRA reads as the text "None")' },
      { value: '', shown: '""' },
    ])('answers the non-numeric attribute $value with 422 non_numeric_attribute', async ({ value, shown, why = '' }) => {
      const body = expectError(await post('/anomaly', { events: [], attributes: { risk_score: value } }), 422, 'non_numeric_attribute');
      expect(body.message).toBe(`attribute 'risk_score' = ${shown} required by input_marking for place 'p_application' is not a finite number${why}`);
      expect(body.details[0]!.path).toBe('body/attributes/risk_score');
    });

    it('answers an attribute beyond float32 with 422 non_numeric_attribute saying so', async () => {
      const body = expectError(await post('/anomaly', { events: [], attributes: { risk_score: '1e39' } }), 422, 'non_numeric_attribute');
      expect(body.message).toBe("attribute 'risk_score' = \"1e39\" required by input_marking for place 'p_application' is beyond ±3.4e38 (the model's inputs are float32)");
    });

    it('derives the marking from a numeric attribute exactly as from input_marking', async () => {
      const events = [{ name: 'decline loan' }];
      expect(await score({ events, attributes: { risk_score: ' 0.25 ' } })).toEqual(await score({ events, input_marking: { p_application: 0.25 } }));
      expect(await score({ events, attributes: { risk_score: 0.25 } })).toEqual(await score({ events, input_marking: { p_application: 0.25 } }));
    });
  });

  describe('/anomaly/batch with bad items among good ones', () => {
    it("reports a missing field of an item once, as /anomaly does for the same body", async () => {
      const response = await post('/anomaly/batch', { traces: [{ events: [{}] }] });
      const item = response.json<{ results: { error: ErrorBody }[] }>().results[0]!;
      expect(item.error.details).toEqual([{ path: 'body/traces/0/events/0/name', message: 'Expected required property' }]);
      const alone = expectError(await post('/anomaly', { events: [{}] }), 400, 'validation_error');
      expect(alone.details).toEqual([{ path: 'body/events/0/name', message: 'Expected required property' }]);
    });

    it('gives each bad item an error entry at its own path and scores the others, in order', async () => {
      const good0 = { events: [{ name: 'approve loan' }], input_marking: { p_application: 0.9 } };
      const good2 = { events: [{ name: 'decline loan' }], attributes: { risk_score: '0.1' } };
      const traces = [
        good0,
        { events: [], input_marking: { p_application: 'inf' } },
        good2,
        { events: [{ name: 'approve loan' }], attributes: {} },
        { events: 'approve loan' },
        { events: [], attributes: { risk_score: 'abc' } },
      ];
      const response = await post('/anomaly/batch', { traces });
      expect(response.statusCode, response.body).toBe(200);
      const { results, scored, errors } = response.json<{ results: BatchItem[]; scored: number; errors: number }>();
      expect({ scored, errors }).toEqual({ scored: 2, errors: 4 });
      expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);

      const scoreOf = (item: BatchItem | undefined): Score => {
        if (item === undefined || 'error' in item) return expect.fail(`expected a score, got ${JSON.stringify(item)}`);
        return { trace_score: item.trace_score, per_transition_residuals: item.per_transition_residuals };
      };
      const errorOf = (item: BatchItem | undefined): ErrorBody => {
        if (item === undefined || !('error' in item)) return expect.fail(`expected an error, got ${JSON.stringify(item)}`);
        return item.error;
      };
      expect(scoreOf(results[0])).toEqual(await score(good0));
      expect(scoreOf(results[2])).toEqual(await score(good2));

      const nonFinite = errorOf(results[1]);
      expect(nonFinite.error).toBe('invalid_input');
      expect(nonFinite.details[0]!.path).toBe('body/traces/1/input_marking/p_application');
      expect(nonFinite.message).toContain('body/traces/1');

      const missing = errorOf(results[3]);
      expect(missing.error).toBe('missing_attribute');
      expect(missing.details[0]!.path).toBe('body/traces/3/attributes/risk_score');
      expect(missing.message).toContain("'risk_score'");
      expect(missing.message).toContain("'p_application'");

      const wrongType = errorOf(results[4]);
      expect(wrongType.error).toBe('validation_error');
      expect(wrongType.details[0]!.path).toBe('body/traces/4/events');
      expect(wrongType.message.startsWith('body/traces/4/events: ')).toBe(true);

      const nonNumeric = errorOf(results[5]);
      expect(nonNumeric.error).toBe('non_numeric_attribute');
      expect(nonNumeric.details[0]!.path).toBe('body/traces/5/attributes/risk_score');
    });

    it('answers a batch of only bad items with 200 and no scores', async () => {
      const response = await post('/anomaly/batch', { traces: [1, null, 'x'] });
      expect(response.statusCode, response.body).toBe(200);
      const { results, scored, errors } = response.json<{ results: BatchItem[]; scored: number; errors: number }>();
      expect({ scored, errors }).toEqual({ scored: 0, errors: 3 });
      expect(results.map((r) => ('error' in r ? r.error.details[0]?.path : undefined))).toEqual(['body/traces/0', 'body/traces/1', 'body/traces/2']);
    });
  });

  describe('booleans in input_marking / input_values: 1.0 and 0.0, as PETRA’s pydantic coerces them', () => {
    const inject = (url: string, payload: unknown) => post(url, payload).then((response) => ({ status: response.statusCode, body: response.body }));
    const diagnostics = { target_transition: 't_approve' };
    const routes: { what: string; url: string; body: (marking: Record<string, unknown>) => unknown }[] = [
      { what: '/anomaly', url: '/anomaly', body: (marking) => ({ input_marking: marking, events: [] }) },
      { what: '/anomaly with an event and input_values {}', url: '/anomaly', body: (marking) => ({ input_marking: marking, input_values: {}, events: [{ name: 'approve loan' }] }) },
      { what: '/forward', url: '/forward', body: (marking) => ({ input_marking: marking }) },
      { what: '/counterfactual', url: '/counterfactual', body: (marking) => ({ input_marking: marking, flip_place: 'p_application', ...diagnostics }) },
      { what: '/sensitivity', url: '/sensitivity', body: (marking) => ({ input_marking: marking, ...diagnostics, all: true }) },
    ];

    it.each(routes)('$what answers true exactly as 1 and false as 0', async ({ url, body }) => {
      const one = await inject(url, body({ p_application: 1 }));
      const zero = await inject(url, body({ p_application: 0 }));
      expect(one.status, one.body).toBe(200);
      expect(await inject(url, body({ p_application: true }))).toEqual(one);
      expect(await inject(url, body({ p_application: false }))).toEqual(zero);
      // The model's default for p_application is 1.0: false is really fed as 0.
      expect(zero.body).not.toBe(one.body);
    });

    it('reads them in /anomaly/batch items, each as /anomaly would', async () => {
      const response = await post('/anomaly/batch', { traces: [true, false].map((flag) => ({ input_marking: { p_application: flag }, events: [{ name: 'approve loan' }] })) });
      expect(response.statusCode, response.body).toBe(200);
      const { results, errors } = response.json<{ results: BatchItem[]; errors: number }>();
      expect(errors).toBe(0);
      for (const [i, number] of [1, 0].entries()) {
        expect(results[i]).toEqual({ index: i, ...(await score({ input_marking: { p_application: number }, events: [{ name: 'approve loan' }] })) });
      }
    });

    it('reports the flipped input as 1.0 when it was sent as true (PETRA’s original_input)', async () => {
      const response = await post('/counterfactual', { input_marking: { p_application: true }, flip_place: 'p_application', ...diagnostics });
      expect(response.json<{ original_input: number }>().original_input).toBe(1);
    });

    it('does not read other values as booleans: "true" is no numeral to Python, a trace attribute true is "True", null and lists are wrong types', async () => {
      const text = expectError(await post('/anomaly', { events: [], input_marking: { p_application: 'true' } }), 400, 'invalid_input');
      expect(text.details[0]!.path).toBe('body/input_marking/p_application');
      // Attributes go through str() in PETRA, not pydantic: true is "True", which float() refuses.
      const attribute = expectError(await post('/anomaly', { events: [], attributes: { risk_score: true } }), 422, 'non_numeric_attribute');
      expect(attribute.details[0]!.path).toBe('body/attributes/risk_score');
      for (const [url, payload, path, got] of [
        ['/anomaly', { events: [], input_marking: { p_application: null } }, 'body/input_marking/p_application', 'got null'],
        ['/forward', { input_marking: { p_application: [true] } }, 'body/input_marking/p_application', 'got an array'],
        ['/sensitivity', { input_marking: {}, input_values: { p_application: { value: true } }, ...diagnostics }, 'body/input_values/p_application', 'got an object'],
      ] as const) {
        const body = expectValidationError(await post(url, payload), path);
        expect(body.message).toBe(`${path}: Expected a finite number, a string or a boolean, ${got}`);
      }
    });
  });

  describe('input keys that are no ONNX input', () => {
    it('lists them in ignored_inputs and leaves the PETRA fields exactly as without them', async () => {
      const events = [{ name: 'approve loan' }];
      const plain = await score({ events, input_marking: { p_application: 0.7 } });
      expect(plain).not.toHaveProperty('ignored_inputs');
      const extra = await score({ events, input_marking: { p_application: 0.7, p_unknown: 1, t_approve: 0.3 }, input_values: { p_application: 2, 'a/b': 5 } });
      expect(extra.ignored_inputs).toEqual(['/input_marking/p_unknown', '/input_marking/t_approve', '/input_values/p_application', '/input_values/a~1b']);
      expect({ trace_score: extra.trace_score, per_transition_residuals: extra.per_transition_residuals }).toEqual(plain);
    });

    it('does the same on /forward', async () => {
      const plain = await post('/forward', { input_marking: { p_application: 0.7 } });
      const extra = await post('/forward', { input_marking: { p_application: 0.7, p_approved: 0.5 } });
      const plainBody = plain.json<{ transition_activations: Record<string, number>; ignored_inputs?: string[] }>();
      const extraBody = extra.json<{ transition_activations: Record<string, number>; ignored_inputs?: string[] }>();
      expect(plainBody.ignored_inputs).toBeUndefined();
      expect(extraBody.ignored_inputs).toEqual(['/input_marking/p_approved']);
      expect(extraBody.transition_activations).toEqual(plainBody.transition_activations);
    });

    it('still validates the ignored values: a non-finite one is a 400', async () => {
      const body = expectError(await post('/anomaly', { events: [], input_marking: { p_unknown: 'nan' } }), 400, 'invalid_input');
      expect(body.details[0]!.path).toBe('body/input_marking/p_unknown');
    });
  });

  it('shortens a long value in a message without splitting a surrogate pair', async () => {
    const id = `a${'😀'.repeat(256)}`; // 513 code units: one over the limit, the 60-unit cut falls inside an emoji
    const response = await app.inject({ method: 'GET', url: `/cases/${encodeURIComponent(id)}` });
    expect(response.statusCode).toBe(400);
    const { message } = response.json<ErrorBody>();
    expect(message).toContain(`"a${'😀'.repeat(29)}…"`);
    expect(message).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('never answers 5xx to a zoo of odd requests', async () => {
    const deep: Record<string, unknown> = {};
    let cursor = deep;
    for (let i = 0; i < 200; i++) cursor = cursor.x = {} as Record<string, unknown>;
    const requests: InjectOptions[] = [
      { method: 'POST', url: '/anomaly', payload: { events: [], input_marking: deep } },
      { method: 'POST', url: '/anomaly', payload: { events: [], input_marking: { p_application: 1e308 } } },
      { method: 'POST', url: '/anomaly', payload: { events: [], input_marking: { p_application: -1e308 } } },
      { method: 'POST', url: '/anomaly', payload: { events: [], input_marking: { p_application: '1e39' } } },
      { method: 'POST', url: '/anomaly', payload: { events: [{ name: '\u0000' }, { name: '💥'.repeat(100) }], attributes: { '': '' } } },
      { method: 'POST', url: '/anomaly', payload: { events: [], attributes: { risk_score: '9'.repeat(400) } } },
      { method: 'POST', url: '/anomaly', payload: { events: [], attributes: { risk_score: -0 } } },
      { method: 'POST', url: '/anomaly', payload: { events: Array.from({ length: 50 }, () => ({ name: 5 })) } },
      { method: 'POST', url: '/anomaly/batch', payload: { traces: [deep, [], { events: [], input_values: null, input_marking: {} }] } },
      { method: 'POST', url: '/forward', payload: { input_marking: { p_application: '1' }, input_values: null } },
      { method: 'POST', url: '/events', payload: { events: [{ case_id: 'z', name: 'x', attributes: { risk_score: null } }] } },
      { method: 'POST', url: '/events?score=true', payload: { events: [{ case_id: 'z', name: 'x', attributes: { risk_score: 'nan' } }] } },
      { method: 'GET', url: '/cases/z' },
      { method: 'POST', url: '/cases/z/close' },
      { method: 'POST', url: '/cases/z/close', payload: 'junk', headers: JSON_TYPE },
      { method: 'GET', url: '/cases?after=&limit=1' },
      { method: 'GET', url: '/cases?limit=1e3' },
      { method: 'GET', url: '/cases?limit=-1' },
      { method: 'POST', url: `/cases/${encodeURIComponent('a/b?c#d')}/events`, payload: { name: 'x' } },
      { method: 'POST', url: '/cases/%20/events', payload: { name: 'x' } },
      { method: 'POST', url: '/anomaly', payload: '{"events": [], "events": 1}', headers: JSON_TYPE },
      { method: 'POST', url: '/anomaly', payload: '\uFEFF{"events": []}', headers: JSON_TYPE },
      { method: 'POST', url: '/anomaly', payload: Buffer.from([0xff, 0xfe, 0x7b]), headers: JSON_TYPE },
      { method: 'POST', url: '/anomaly', payload: '{"events": []}', headers: { 'content-type': 'application/json; charset=utf-16' } },
      { method: 'OPTIONS', url: '/anomaly' },
      { method: 'HEAD', url: '/anomaly' },
    ];
    for (const request of requests) {
      const response = await app.inject(request);
      const where = `${request.method ?? 'GET'} ${request.url as string}: ${response.body.slice(0, 300)}`;
      expect(response.statusCode, where).toBeLessThan(500);
      if (response.statusCode >= 400 && request.method !== 'HEAD') {
        expect(Object.keys(response.json<ErrorBody>()).sort(), where).toEqual(['details', 'error', 'message']);
      }
    }
  });
});

describe('the dashboard page and its files: the headers that keep the page from being framed or sniffed', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('carries the page\'s Content-Security-Policy and nosniff on /dashboard/, on the page by its file name, and on every file', async () => {
    for (const url of ['/dashboard/', '/dashboard/index.html', '/dashboard/dashboard.js']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-security-policy'], url).toContain("frame-ancestors 'none'");
      expect(response.headers['x-content-type-options'], url).toBe('nosniff');
    }
  });
});

describe('dashboard files: what the static file server refuses, said in words, at url or the header', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('answers a file the dashboard does not have with 404 "no such file", not "no route"', async () => {
    const body = expectError(await app.inject({ method: 'GET', url: '/dashboard/nope.js' }), 404, 'not_found');
    expect(body.message).toBe('no such file: /dashboard/nope.js');
    expect(body.details).toEqual([{ path: 'url', message: 'no such file' }]);
  });

  it('answers a NUL byte in the file path with 400 bad_url saying so', async () => {
    const body = expectError(await app.inject({ method: 'GET', url: '/dashboard/%00' }), 400, 'bad_url');
    expect(body.message).toContain('NUL byte');
    expect(body.details).toEqual([{ path: 'url', message: 'holds a NUL byte' }]);
  });

  it('answers a path that climbs out of the dashboard with 403 forbidden saying so (on the wire: inject resolves the dots)', async () => {
    const server = await listening();
    onTestFinished(() => server.app.close());
    const answer = await sendRaw(server.url, 'GET /dashboard/%2e%2e/%2e%2e/package.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 403 /);
    const body = JSON.parse(answer.split('\r\n\r\n')[1]!) as ErrorBody;
    expect(body.error).toBe('forbidden');
    expect(body.message).toContain('leads outside the dashboard');
    expect(body.details).toEqual([{ path: 'url', message: 'leads outside the dashboard' }]);
  });

  it('answers an unsatisfiable Range with 416 at headers/range, keeping Content-Range, and a failed If-Match with 412', async () => {
    const range = await app.inject({ method: 'GET', url: '/dashboard/dashboard.js', headers: { range: 'bytes=99999999-' } });
    const rangeBody = expectError(range, 416, 'range_not_satisfiable');
    expect(range.headers['content-range']).toMatch(/^bytes \*\/\d+$/);
    expect(rangeBody.details).toEqual([{ path: 'headers/range', message: 'beyond the end of the file' }]);
    const match = expectError(await app.inject({ method: 'GET', url: '/dashboard/dashboard.js', headers: { 'if-match': '"nope"' } }), 412, 'precondition_failed');
    expect(match.details).toEqual([{ path: 'headers/if-match', message: 'not met' }]);
    // The files themselves are served as before.
    expect((await app.inject({ method: 'GET', url: '/dashboard/dashboard.js' })).statusCode).toBe(200);
  });
});

describe('a streamed event with a field spelt near "attributes" (its values would be dropped without a word)', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('is a 400 invalid_input at the field, saying what was meant, and changes no case; other fields an engine adds are ignored', async () => {
    for (const key of ['attribute', 'Attributes', 'attributs', 'attri_butes']) {
      const single = expectError(await app.inject({ method: 'POST', url: '/cases/typo/events', payload: { name: 'approve loan', [key]: { risk_score: '0.9' } } }), 400, 'invalid_input');
      expect(single.details, key).toEqual([{ path: `body/${key}`, message: `"${key}" is no field of an event (did you mean "attributes"?): its values would be ignored` }]);
      const stream = expectError(
        await app.inject({ method: 'POST', url: '/events', payload: { events: [{ case_id: 'typo', name: 'approve loan' }, { case_id: 'typo', name: 'approve loan', [key]: { risk_score: '0.9' } }] } }),
        400,
        'invalid_input',
      );
      expect(stream.details[0]!.path, key).toBe(`body/events/1/${key}`);
    }
    expect((await app.inject({ method: 'HEAD', url: '/cases/typo' })).statusCode).toBe(404);
    const extra = await app.inject({ method: 'POST', url: '/cases/typo/events', payload: { name: 'approve loan', attributes: { risk_score: '0.9' }, lifecycle: 'complete', processInstanceId: 'p-1' } });
    expect(extra.statusCode, extra.body).toBe(202);
  });
});

describe('a streamed event whose body names another case than its path', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('is a 400 invalid_input at body/case_id naming both ids, and opens neither case; the same id, as text or number, is fine', async () => {
    const refused = expectError(
      await app.inject({ method: 'POST', url: '/cases/C-1/events', payload: { case_id: 'C-2', name: 'approve loan', attributes: { risk_score: '0.9' } } }),
      400,
      'invalid_input',
    );
    expect(refused.details).toEqual([
      { path: 'body/case_id', message: `names case "C-2", but the event was posted to case "C-1": post it to that case's path, or leave case_id out` },
    ]);
    for (const id of ['C-1', 'C-2']) expect((await app.inject({ method: 'HEAD', url: `/cases/${id}` })).statusCode, id).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/cases/C-1/events', payload: { case_id: 'C-1', name: 'approve loan' } })).statusCode).toBe(202);
    expect((await app.inject({ method: 'POST', url: '/cases/42/events', payload: { case_id: 42, name: 'approve loan' } })).statusCode).toBe(202);
    expect((await app.inject({ method: 'POST', url: '/cases/C-3/events', payload: { case_id: null, name: 'approve loan' } })).statusCode).toBe(202);
  });
});

describe("Swagger UI's files (/docs/static/): what its file server refuses, said in words as the dashboard's", () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(async () => app.close());

  it('answers a NUL byte with 400 bad_url, an unsatisfiable Range with 416 and a failed If-Match with 412, each at its place', async () => {
    const nul = expectError(await app.inject({ method: 'GET', url: '/docs/static/%00' }), 400, 'bad_url');
    expect(nul.details).toEqual([{ path: 'url', message: 'holds a NUL byte' }]);
    const range = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui.css', headers: { range: 'bytes=99999999-' } });
    expect(expectError(range, 416, 'range_not_satisfiable').details).toEqual([{ path: 'headers/range', message: 'beyond the end of the file' }]);
    expect(range.headers['content-range']).toMatch(/^bytes \*\/\d+$/);
    const match = expectError(await app.inject({ method: 'GET', url: '/docs/static/swagger-ui.css', headers: { 'if-match': '"nope"' } }), 412, 'precondition_failed');
    expect(match.details).toEqual([{ path: 'headers/if-match', message: 'not met' }]);
    expect((await app.inject({ method: 'GET', url: '/docs/static/swagger-ui.css' })).statusCode).toBe(200);
  });

  it('answers a path that is not a plain file path with 403 forbidden saying why (on the wire: inject resolves the dots)', async () => {
    const server = await listening();
    onTestFinished(() => server.app.close());
    for (const [path, detail] of [
      ['/docs/static/%2e%2e/%2e%2e/package.json', "leads outside Swagger UI"],
      ['/docs/static/./swagger-ui.css', 'not a plain file path'],
      ['/docs/static//swagger-ui.css', 'not a plain file path'],
    ] as const) {
      const answer = await sendRaw(server.url, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(answer, path).toMatch(/^HTTP\/1\.1 403 /);
      const body = JSON.parse(answer.split('\r\n\r\n')[1]!) as ErrorBody;
      expect(body.error, path).toBe('forbidden');
      expect(body.details, path).toEqual([{ path: 'url', message: detail }]);
    }
  });
});

describe('oversized bodies', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ bodyLimit: 2048 });
  });
  afterAll(async () => app.close());

  it('answers a body over --body-limit with 413 body_too_large naming the limit, on every POST route', async () => {
    const padding = 'x'.repeat(2100);
    for (const [url, payload] of [
      ['/anomaly', { events: [{ name: padding }], input_marking: {} }],
      ['/anomaly/batch', { traces: [{ events: [{ name: padding }] }] }],
      ['/forward', { input_marking: { [padding]: 1 } }],
      ['/cases/big/events', { name: padding }],
      ['/events', { events: [{ case_id: 'big', name: padding }] }],
    ] as const) {
      const body = expectError(await app.inject({ method: 'POST', url, payload }), 413, 'body_too_large');
      expect(body.message).toContain('2048 bytes');
    }
    expect((await app.inject({ method: 'GET', url: '/cases/big' })).statusCode).toBe(404);
  });

  it('accepts a body just under the limit', async () => {
    const payload = JSON.stringify({ events: [{ name: 'y'.repeat(1900) }], input_marking: {} });
    expect(payload.length).toBeLessThan(2048);
    const response = await app.inject({ method: 'POST', url: '/anomaly', payload, headers: JSON_TYPE });
    expect(response.statusCode, response.body).toBe(200);
  });
});

describe('the value channel (credit_approval_coloured)', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ bundle: modelPath('credit_approval_coloured') });
  });
  afterAll(async () => app.close());

  it('names the value-channel attribute and place when it is missing or not numeric', async () => {
    const missing = expectError(await app.inject({ method: 'POST', url: '/anomaly', payload: { events: [], attributes: {} } }), 422, 'missing_attribute');
    expect(missing.message).toBe("trace missing attribute 'amount' required by input_values for place 'p_submitted'");
    expect(missing.details[0]!.path).toBe('body/attributes/amount');
    const text = expectError(await app.inject({ method: 'POST', url: '/anomaly', payload: { events: [], attributes: { amount: '1,000' } } }), 422, 'non_numeric_attribute');
    expect(text.message).toContain("'amount'");
    expect(text.message).toContain("'p_submitted'");
  });

  it('reads a boolean in input_values as 1.0 or 0.0, as PETRA does, on /anomaly, /forward and a value-channel counterfactual', async () => {
    const answer = async (url: string, payload: unknown): Promise<{ status: number; body: string }> => {
      const response = await app.inject({ method: 'POST', url, payload: payload as InjectOptions['payload'] });
      return { status: response.statusCode, body: response.body };
    };
    const bodies: [string, (value: unknown) => unknown][] = [
      ['/anomaly', (value) => ({ events: [{ name: 'approve loan' }], input_marking: { p_submitted: 1 }, input_values: { p_submitted: value } })],
      ['/forward', (value) => ({ input_marking: { p_submitted: 1 }, input_values: { p_submitted: value } })],
      ['/counterfactual', (value) => ({ input_marking: { p_submitted: true }, input_values: { p_submitted: value }, flip_place: 'p_submitted', flip_channel: 'value', target_transition: 't_approve', search_range: [0, 10000] })],
    ];
    for (const [url, body] of bodies) {
      const one = await answer(url, body(1));
      expect(one.status, `${url}: ${one.body}`).toBe(200);
      expect(await answer(url, body(true))).toEqual(one);
      expect(await answer(url, body(false))).toEqual(await answer(url, body(0)));
    }
  });

  it('refuses a non-finite input_values entry with its path', async () => {
    const body = expectError(await app.inject({ method: 'POST', url: '/anomaly', payload: { events: [], input_marking: {}, input_values: { p_submitted: 'Infinity' } } }), 400, 'invalid_input');
    expect(body.details[0]!.path).toBe('body/input_values/p_submitted');
  });
});
