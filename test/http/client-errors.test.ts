import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRaw } from '../helpers/raw-http.js';
import { listening, metricValue, type Listening } from '../live/helpers.js';

interface ErrorBody {
  error: string;
  message: string;
  details: { path: string }[];
}

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
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metricValue(metrics, 'petrascore_client_errors_total', '{error="headers_too_large"}')).toBe(1);
  });

  it('answers bytes that are not HTTP with 400 bad_request', async () => {
    const answer = parse(await sendRaw(server.url, 'HELLO THERE\r\n\r\n'));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'bad_request', details: [{ path: 'request' }] });
  });
});
