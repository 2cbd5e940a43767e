import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import type { App } from '../../src/app.js';
import { testApp } from '../helpers/app.js';
import { modelPath, readFixture, STREAM_BUNDLES, type StreamScript, type StreamStep } from '../helpers/fixtures.js';
import { expectScoreClose } from '../helpers/tolerance.js';

/** PETRA's error text is `KeyError: <message>`; ours carries the message. */
function petraMessage(step: StreamStep): string {
  return step.expected_error!.replace(/^KeyError: /, '');
}

describe.each(STREAM_BUNDLES)("PETRA's StreamingEvaluator replay on %s", (bundle) => {
  let app: App;
  const script = readFixture<StreamScript>(bundle, 'stream.json');

  beforeAll(async () => {
    app = await testApp({ bundle: modelPath(bundle), scoreEveryEvent: true });
  });
  afterAll(async () => app?.close());

  it(`matches every one of the ${script.steps.length} steps through the case routes`, async () => {
    for (const step of script.steps) {
      const where = `step ${step.step} (${step.op})`;
      const caseId = step.event?.case_id ?? step.case_id!;
      const url = `/cases/${encodeURIComponent(caseId)}`;
      const response =
        step.op === 'event'
          ? await app.inject({ method: 'POST', url: `${url}/events`, payload: { name: step.event!.name, timestamp: step.event!.timestamp, attributes: step.event!.attributes } })
          : step.op === 'close'
            ? await app.inject({ method: 'POST', url: `${url}/close` })
            : await app.inject({ method: 'GET', url });
      const body = response.json();
      if (step.expected !== null) {
        expect(response.statusCode, `${where}: ${response.body}`).toBe(200);
        expect({ case_id: body.case_id, n_events: body.n_events, closed: body.closed }, where).toEqual({
          case_id: step.expected.case_id,
          n_events: step.expected.n_events,
          closed: step.expected.closed,
        });
        expectScoreClose(body, step.expected, where);
      } else if (step.expected_error !== null) {
        if (step.op === 'event') {
          expect(response.statusCode, where).toBe(202);
          expect(body.not_scored.message, where).toBe(petraMessage(step));
        } else {
          expect(response.statusCode, where).toBe(422);
          expect(body.message, where).toBe(petraMessage(step));
        }
      } else {
        // PETRA answered None: the case was unknown.
        expect(response.statusCode, `${where}: ${response.body}`).toBe(404);
      }
    }
    const list = await app.inject({ method: 'GET', url: '/cases' });
    expect(list.json().case_ids).toEqual([...script.open_cases_at_end].sort());
  });

  it('replays the same script with consecutive events batched through POST /events', async () => {
    const fresh = await testApp({ bundle: modelPath(bundle) });
    try {
      let batch: StreamStep[] = [];
      let batches = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        const response = await fresh.inject({
          method: 'POST',
          url: '/events?score=true',
          payload: { events: batch.map((s) => ({ case_id: s.event!.case_id, name: s.event!.name, timestamp: s.event!.timestamp, attributes: s.event!.attributes })) },
        });
        expect(response.statusCode, response.body).toBe(200);
        const { results, accepted } = response.json() as { results: Record<string, unknown>[]; accepted: number };
        expect(accepted).toBe(batch.length);
        batch.forEach((step, i) => {
          const result = results[i]!;
          if (step.expected !== null) expectScoreClose(result as never, step.expected, `event step ${step.step}`);
          else expect((result.not_scored as { message: string }).message).toBe(petraMessage(step));
        });
        batches++;
        batch = [];
      };
      for (const step of script.steps) {
        if (step.op === 'event') {
          batch.push(step);
          continue;
        }
        await flush();
        const url = `/cases/${encodeURIComponent(step.case_id!)}`;
        const response = await fresh.inject(step.op === 'close' ? { method: 'POST', url: `${url}/close` } : { method: 'GET', url });
        expect(response.statusCode).toBe(step.expected !== null ? 200 : step.expected_error !== null ? 422 : 404);
      }
      await flush();
      expect(batches).toBeGreaterThan(0);
    } finally {
      await fresh.close();
    }
  });
});
