import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRaw } from '../helpers/raw-http.js';
import { listening, metricValue, type Listening } from '../live/helpers.js';
import type { ErrorBody } from '../../src/schemas/common.js';

function parse(answer: string): { status: number; headers: string; body: ErrorBody } {
  const [head, body] = answer.split('\r\n\r\n', 2) as [string, string];
  return { status: Number(head.split(' ')[1]), headers: head, body: JSON.parse(body) as ErrorBody };
}

describe("requests Node's HTTP parser refuses, on a listening server", () => {
  let server: Listening;
  beforeAll(async () => {
    server = await listening();
  });
  afterAll(async () => server.app.close());

  it('answers a URL beyond the header size limit with 431 in the service’s error shape, and counts it', async () => {
    const answer = parse(await sendRaw(server.url, `GET /cases/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`));
    expect(answer.status).toBe(431);
    expect(answer.headers).toContain('Content-Type: application/json; charset=utf-8');
    expect(answer.body.error).toBe('headers_too_large');
    expect(answer.body.message).toMatch(/exceed \d+ bytes/);
    expect(answer.body.details.map((d) => d.path)).toEqual(['headers']);
    // Every answer carries an x-request-id; with no headers parsed, one of the server's.
    expect(answer.headers).toMatch(/^x-request-id: req-[0-9a-z]+$/im);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metricValue(metrics, 'petrascore_client_errors_total', '{error="headers_too_large"}')).toBe(1);
  });

  it('answers bytes that are not HTTP with 400 bad_request', async () => {
    const answer = parse(await sendRaw(server.url, 'HELLO THERE\r\n\r\n'));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'bad_request', details: [{ path: 'request' }] });
    expect(answer.headers).toMatch(/^x-request-id: req-[0-9a-z]+$/im);
  });

  it('neither answers nor counts a request its client ends half-way (a client that gave up, or a flood of them)', async () => {
    const badRequests = async () => metricValue(await (await fetch(`${server.url}/metrics`)).text(), 'petrascore_client_errors_total', '{error="bad_request"}');
    const before = await badRequests();
    for (const half of ['POST /anomaly HTTP/1.1\r\nHost: x\r\n', 'POST /anomaly HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"events"']) {
      // Ended by the client, which still reads: an answer would reach it.
      expect(await sendRaw(server.url, half, { end: true })).toBe('');
    }
    // Bytes that are not HTTP are still answered and counted.
    expect(parse(await sendRaw(server.url, 'HELLO THERE\r\n\r\n')).status).toBe(400);
    expect(await badRequests()).toBe(before + 1);
  });

  it('answers a transfer coding that does not end with chunked with 400 naming the header', async () => {
    const answer = parse(await sendRaw(server.url, 'POST /anomaly HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\nabc'));
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/Transfer-Encoding .* must be chunked/);
    expect(answer.body.details.map((d) => d.path)).toEqual(['headers/transfer-encoding']);
  });
});

describe("requests Node's HTTP server answers itself unless told otherwise, on a listening server", () => {
  let server: Listening;
  beforeAll(async () => {
    server = await listening();
  });
  afterAll(async () => server.app.close());

  const clientErrors = async (label: string) => metricValue(await (await fetch(`${server.url}/metrics`)).text(), 'petrascore_client_errors_total', `{error="${label}"}`);

  it('leaves an HTTP/1.1 request without a Host header to Node: a 400 without a body (a JSON one would need a check on every request)', async () => {
    expect(await sendRaw(server.url, 'GET /healthz HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    // HTTP/1.0 has no Host requirement.
    expect(await sendRaw(server.url, 'GET /healthz HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('answers an Expect other than 100-continue with a JSON 417 naming the header, and counts it', async () => {
    const answer = parse(await sendRaw(server.url, 'POST /cases/c/close HTTP/1.1\r\nHost: x\r\nX-Request-Id: mine-417\r\nExpect: x-foo\r\nContent-Length: 0\r\n\r\n'));
    expect(answer.status).toBe(417);
    expect(answer.headers).toMatch(/^x-request-id: mine-417$/im);
    expect(answer.headers).toMatch(/^connection: close$/im);
    expect(answer.body.error).toBe('expectation_failed');
    expect(answer.body.message).toContain('"x-foo"');
    expect(answer.body.details.map((d) => d.path)).toEqual(['headers/expect']);
    expect(await clientErrors('expectation_failed')).toBe(1);
    // 100-continue is met as before.
    const health = await sendRaw(server.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    expect(health).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  });

  it('answers CONNECT with a JSON 405 (this is no proxy) and closes the connection, where Node closed it without a word', async () => {
    const answer = parse(await sendRaw(server.url, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'));
    expect(answer.status).toBe(405);
    expect(answer.headers).toMatch(/^Allow: $/m);
    expect(answer.headers).toMatch(/^x-request-id: req-[0-9a-z]+$/im);
    expect(answer.body.error).toBe('method_not_allowed');
    expect(answer.body.message).toContain('CONNECT');
    expect(answer.body.details.map((d) => d.path)).toEqual(['method']);
    expect(await clientErrors('method_not_allowed')).toBe(1);
  });

  it('answers a gzipped body sent as Transfer-Encoding: gzip, chunked with 415 naming the transfer coding, not as text that is not UTF-8', async () => {
    const body = gzipSync('{"events": [], "input_marking": {"p_application": 1}}');
    const head = 'POST /anomaly HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n';
    const answer = parse(await sendRaw(server.url, Buffer.concat([Buffer.from(`${head}${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')])));
    expect(answer.status).toBe(415);
    expect(answer.body.error).toBe('unsupported_media_type');
    expect(answer.body.message).toMatch(/^Transfer-Encoding "gzip, chunked" is not supported/);
    expect(answer.body.details).toEqual([{ path: 'headers/transfer-encoding', message: 'only chunked is supported' }]);
    // Chunked alone is an ordinary body.
    const plain = Buffer.from('{"events": [], "input_marking": {"p_application": 1}}');
    const chunked = 'POST /anomaly HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    expect(await sendRaw(server.url, `${chunked}${plain.length.toString(16)}\r\n${plain.toString()}\r\n0\r\n\r\n`)).toMatch(/^HTTP\/1\.1 200 /);
  });
});
