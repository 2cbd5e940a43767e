import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { testApp } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { modelPath, readFixture } from '../helpers/fixtures.js';

/** The keys of the object `field` of a JSON text, in the order the text writes them (a parsed object would not keep it). */
function keysAsWritten(text: string, field: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let at = text.indexOf('{', text.indexOf(`"${field}":`)); at < text.length; at++) {
    const char = text[at]!;
    if (char === '{' || char === '[') depth++;
    else if (char === '}' || char === ']') {
      if (--depth === 0) break;
    } else if (char === '"') {
      const string = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(at))![0];
      if (depth === 1 && /^\s*:/.test(text.slice(at + string.length))) keys.push(JSON.parse(string) as string);
      at += string.length - 1;
    }
  }
  return keys;
}

/**
 * A net whose ids JavaScript would reorder: integer-like ones ("10", "9"), which an object lists first, smallest first;
 * one past U+FFFF ("😀", two UTF-16 units from U+D83D), which code-unit order puts before "｡" (U+FF61). PETRA lists
 * places and transitions sorted by code point, as the sidecar has them.
 */
describe('GET /schema on a net whose ids JavaScript objects and sort() would reorder', () => {
  let app: App;
  let dir: string;
  const transitions = { '10': 'approve loan', '9': 'decline loan', a_silent: 'tau', '｡x': 'halfwidth', '😀': 'emoji' };
  const places = ['12', '3', 'p_application', 'p_approved', 'p_declined', '｡p', '😀p'];
  const initialMarking = { '12': 1, '3': 1, p_application: 1 };
  const markingSpec = { '12': { constant: 1 }, '3': { constant: 1 }, p_application: { attribute: 'risk_score' } };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'petrascore-schema-order-'));
    copyFileSync(modelPath('onnx_deployment'), join(dir, 'model.onnx'));
    const sidecar = JSON.parse(JSON.stringify(readFixture<object>('onnx_deployment', 'model.onnx.meta.json')).replaceAll('"t_approve"', '"10"').replaceAll('"t_decline"', '"9"')) as Record<string, unknown>;
    // Written as PETRA writes them: every map in id order (a JSON text keeps it; only a JavaScript object would not).
    const text = JSON.stringify({ ...sidecar, transition_labels: 'TRANSITIONS', places, initial_marking: 'INITIAL', input_marking_spec: 'SPEC' })
      .replace('"TRANSITIONS"', '{"10":"approve loan","9":"decline loan","a_silent":"tau","｡x":"halfwidth","😀":"emoji"}')
      .replace('"INITIAL"', '{"12":1,"3":1,"p_application":1}')
      .replace('"SPEC"', '{"12":{"constant":1},"3":{"constant":1},"p_application":{"attribute":"risk_score"}}');
    writeFileSync(join(dir, 'model.onnx.meta.json'), text);
    app = await testApp({ bundle: join(dir, 'model.onnx') });
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists places, transitions and every map keyed by place id in id order (code points), as PETRA sorts them', async () => {
    const response = await app.inject({ method: 'GET', url: '/schema' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = response.json<{ places: string[]; transitions: object; initial_marking: object; input_marking_spec: object; input_values_spec: object; scored_transitions: string[] }>();
    expect(body.places).toEqual(places);
    expect(keysAsWritten(response.body, 'transitions')).toEqual(['10', '9', 'a_silent', '｡x', '😀']);
    expect(keysAsWritten(response.body, 'initial_marking')).toEqual(['12', '3', 'p_application']);
    expect(keysAsWritten(response.body, 'input_marking_spec')).toEqual(['12', '3', 'p_application']);
    expect(body.scored_transitions).toEqual(['10', '9']);
    // The same document as before, an object for each map: only the order of the text changed.
    expect(body).toMatchObject({ transitions, initial_marking: initialMarking, input_marking_spec: markingSpec, input_values_spec: {} });
  });

  it('inspect --json prints that document, indented, in the same order', async () => {
    const result = await runCli(['inspect', join(dir, 'model.onnx'), '--json']);
    expect(result.code, result.stderr).toBe(0);
    const served = (await app.inject({ method: 'GET', url: '/schema' })).json<Record<string, unknown>>();
    expect(JSON.parse(result.stdout)).toEqual(served);
    for (const field of ['transitions', 'initial_marking']) expect(keysAsWritten(result.stdout, field)).toEqual(keysAsWritten((await app.inject({ method: 'GET', url: '/schema' })).body, field));
  });
});

describe('POST /anomaly without input_marking on a coloured net: the value channel from the attributes', () => {
  let app: App;
  beforeAll(async () => {
    app = await testApp({ bundle: modelPath('credit_approval_coloured') });
  });
  afterAll(async () => app.close());

  const score = async (extra: Record<string, unknown>) => {
    const response = await app.inject({ method: 'POST', url: '/anomaly', payload: { events: [{ name: 'approve loan' }], attributes: { amount: '5000' }, ...extra } });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ trace_score: number }>().trace_score;
  };

  it('reads input_values: null as omitted (the values from the attributes) and {} as the defaults', async () => {
    const derived = await score({});
    const explicit = await score({ input_values: { p_submitted: 5000 } });
    const defaults = await score({ input_values: { p_submitted: 1 } });
    expect(derived).toBe(explicit);
    expect(derived).not.toBe(defaults);
    expect(await score({ input_values: null })).toBe(derived);
    expect(await score({ input_values: {} })).toBe(defaults);
  });

  it('reads input_marking: null as omitted (Jackson writes an unset field as null): marking and values from the attributes', async () => {
    const derived = await score({});
    expect(await score({ input_marking: null })).toBe(derived);
    expect(await score({ input_marking: null, input_values: null })).toBe(derived);
    expect(await score({ input_marking: {} })).not.toBe(derived);
    const batch = await app.inject({ method: 'POST', url: '/anomaly/batch', payload: { traces: [{ input_marking: null, events: [{ name: 'approve loan' }], attributes: { amount: '5000' } }] } });
    expect(batch.json<{ results: { trace_score: number }[] }>().results[0]!.trace_score).toBe(derived);
  });
});
