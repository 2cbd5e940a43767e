import { TypeCompiler } from '@sinclair/typebox/compiler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { MAX_DETAILS } from '../../src/http/describe-error.js';
import { firstErrors, validatorCompiler } from '../../src/http/validator-compiler.js';
import { AnomalyRequest } from '../../src/schemas/anomaly.js';
import type { ErrorBody } from '../../src/schemas/common.js';
import { testApp } from '../helpers/app.js';

/**
 * A body of many bad items (300,000 events `{"name": 1}`, 3.3 MB) held the event loop for 0.7–0.9 s while every one of
 * its errors was built, where the same body with good names was refused in 0.07 s (too_many_items): the answer shows
 * MAX_DETAILS of them, so no more are read.
 */
describe('validation reads no more errors than an answer shows', () => {
  const badEvents = (count: number) => ({ input_marking: {}, events: Array.from({ length: count }, () => ({ name: 1 })) });

  it('the body validator gives at most MAX_DETAILS errors, however many the body has', () => {
    const validate = validatorCompiler({ schema: AnomalyRequest, httpPart: 'body', method: 'POST', url: '/anomaly' });
    const result = validate(badEvents(100_000)) as { error?: { instancePath: string }[] };
    expect(result.error).toHaveLength(MAX_DETAILS);
    expect(result.error!.map((e) => e.instancePath).slice(0, 2)).toEqual(['/events/0/name', '/events/1/name']);
  });

  it('stops drawing on the checker once it has them, and still reports a missing field once (not also its type)', () => {
    let drawn = 0;
    function* counted<T>(errors: Iterable<T>): Generator<T> {
      for (const error of errors) {
        drawn++;
        yield error;
      }
    }
    const check = TypeCompiler.Compile(AnomalyRequest);
    expect(firstErrors(counted(check.Errors(badEvents(100_000))))).toHaveLength(MAX_DETAILS);
    expect(drawn).toBe(MAX_DETAILS);
    const missing = firstErrors(check.Errors({ input_marking: {} }));
    expect(missing.map((e) => [e.path, e.message])).toEqual([['/events', 'Expected required property']]);
  });

  describe('through the routes', () => {
    let app: App;
    beforeAll(async () => {
      app = await testApp();
    });
    afterAll(async () => app.close());

    it('answers /anomaly and an /anomaly/batch item with the first MAX_DETAILS errors, in body order', async () => {
      const single = await app.inject({ method: 'POST', url: '/anomaly', payload: badEvents(50_000) });
      expect(single.statusCode).toBe(400);
      const body = single.json<ErrorBody>();
      expect(body.details.map((d) => d.path)).toEqual(Array.from({ length: MAX_DETAILS }, (_, i) => `body/events/${i}/name`));
      const batch = await app.inject({ method: 'POST', url: '/anomaly/batch', payload: { traces: [badEvents(5_000), { input_marking: {}, events: [] }] } });
      const [bad, good] = batch.json<{ results: ({ error: ErrorBody } | { trace_score: number })[] }>().results;
      expect((bad as { error: ErrorBody }).error.details.map((d) => d.path)).toEqual(Array.from({ length: MAX_DETAILS }, (_, i) => `body/traces/0/events/${i}/name`));
      expect(good).toHaveProperty('trace_score');
    });
  });
});
