import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRaw } from '../helpers/raw-http.js';
import { listening, type Listening } from '../live/helpers.js';

/** Writes all `requests` in one go on one connection (HTTP/1.1 pipelining); the answers, in order. */
async function pipelined(url: string, requests: string[]): Promise<{ status: number; body: string }[]> {
  const text = await sendRaw(url, requests.join(''));
  return text.split(/(?=HTTP\/1\.1 \d{3} )/).map((part) => {
    const [head, body = ''] = part.split('\r\n\r\n', 2) as [string, string?];
    return { status: Number(head.split(' ')[1]), body };
  });
}

function request(method: string, path: string, body?: unknown, last = false): string {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const headers = [`${method} ${path} HTTP/1.1`, 'Host: x', ...(body === undefined ? [] : ['Content-Type: application/json']), `Content-Length: ${Buffer.byteLength(payload)}`];
  if (last) headers.push('Connection: close');
  return `${headers.join('\r\n')}\r\n\r\n${payload}`;
}

describe('requests for cases pipelined on one connection (HTTP/1.1)', () => {
  let server: Listening;
  beforeAll(async () => {
    server = await listening();
  });
  afterAll(async () => server.app.close());

  it('are handled in the order they came: a GET or a bodiless close sees the event sent before it', async () => {
    const event = { name: 'approve loan', attributes: { risk_score: '0.9' } };
    const answers = await pipelined(server.url, [
      request('POST', '/cases/P1/events', event),
      request('GET', '/cases/P1'),
      request('HEAD', '/cases/P1'),
      request('POST', '/cases/P1/events', { name: 'decline loan' }),
      request('POST', '/cases/P1/close'),
      request('GET', '/cases', undefined, true),
    ]);
    expect(answers.map((a) => a.status)).toEqual([202, 200, 200, 202, 200, 200]);
    expect(JSON.parse(answers[1]!.body)).toMatchObject({ case_id: 'P1', n_events: 1, closed: false });
    expect(JSON.parse(answers[4]!.body)).toMatchObject({ case_id: 'P1', n_events: 2, closed: true });
    expect(JSON.parse(answers[5]!.body)).toEqual({ count: 0, case_ids: [] });
  });
});
