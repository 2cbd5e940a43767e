import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import type { App, AppConfig } from '../../src/app.js';
import { testApp } from '../helpers/app.js';
import { FIXTURES } from '../helpers/fixtures.js';

export interface Listening {
  app: App;
  url: string;
}

/** The app on a real port of 127.0.0.1 (the wire matters for SSE). Stats ticks are off unless asked for. */
export async function listening(overrides: Partial<AppConfig> = {}): Promise<Listening> {
  const app = await testApp({ liveStatsIntervalMs: 0, ...overrides });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}` };
}

export async function postJson(base: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${base}${path}`, body === undefined ? { method: 'POST' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** One sample of a Prometheus counter or gauge, 0 when absent. */
export function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

export interface LogEvent {
  case_id: string;
  name: string;
  attributes: Record<string, string>;
}

/** A fixture bundle's log.csv as /events items (every column but case, activity and time is an attribute). */
export function logEvents(bundle: string): LogEvent[] {
  const [header, ...rows] = readFileSync(`${FIXTURES}/${bundle}/log.csv`, 'utf8').trim().split('\n');
  const columns = header!.split(',');
  return rows.map((row) => {
    const values = row.split(',');
    const attributes: Record<string, string> = {};
    let caseId = '';
    let name = '';
    columns.forEach((column, i) => {
      const value = values[i] ?? '';
      if (column === 'case_id') caseId = value;
      else if (column === 'activity') name = value;
      else if (column !== 'timestamp') attributes[column] = value;
    });
    return { case_id: caseId, name, attributes };
  });
}

export function manifest(bundle: string): { case_id: string; kind: string }[] {
  return JSON.parse(readFileSync(`${FIXTURES}/${bundle}/log_manifest.json`, 'utf8')) as { case_id: string; kind: string }[];
}
