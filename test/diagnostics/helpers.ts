import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { App } from '../../src/app.js';
export type { ErrorBody } from '../../src/schemas/common.js';
import type { ErrorBody } from '../../src/schemas/common.js';

export function post(app: App, url: string, payload: unknown): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url, payload: payload as InjectOptions['payload'] });
}

/** The uniform error contract: the status, a JSON body with exactly {error, message, details}, a detail at `path`. */
export function expectError(response: LightMyRequestResponse, status: number, error: string, path?: string): ErrorBody {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = response.json<ErrorBody>();
  expect(Object.keys(body).sort()).toEqual(['details', 'error', 'message']);
  expect(body.error).toBe(error);
  if (path !== undefined) expect(body.details.map((d) => d.path)).toContain(path);
  return body;
}

/** ONNX runs the app has made so far (the petrascore_inference_runs_total counter). */
export async function inferenceRuns(app: App): Promise<number> {
  return (await app.metrics.inferenceRuns.get()).values[0]?.value ?? 0;
}

/** POST /forward's activation of one transition. */
export async function forwardActivation(app: App, transition: string, input_marking: Record<string, number>, input_values?: Record<string, number>): Promise<number> {
  const response = await post(app, '/forward', { input_marking, input_values });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ transition_activations: Record<string, number> }>().transition_activations[transition]!;
}
