import { expect } from 'vitest';

/** The parity contract: residuals and activations within 1e-5; trace_score within 1e-5 + 1e-8 per scored transition. */
export const VALUE_TOLERANCE = 1e-5;

export function scoreTolerance(scoredTransitions: number): number {
  return 1e-5 + 1e-8 * scoredTransitions;
}

export function expectClose(actual: number, expected: number, tolerance: number, where: string): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    expect.fail(`${where}: got ${actual}, PETRA ${expected} (|diff| ${Math.abs(actual - expected)} > ${tolerance})`);
  }
}

/** Same keys in the same order, every value within tolerance. */
export function expectRecordClose(actual: Record<string, number>, expected: Record<string, number>, tolerance: number, where: string): void {
  expect(Object.keys(actual), `${where}: keys`).toEqual(Object.keys(expected));
  for (const [key, value] of Object.entries(expected)) expectClose(actual[key]!, value, tolerance, `${where}.${key}`);
}

export function expectScoreClose(actual: { trace_score: number; per_transition_residuals: Record<string, number> }, expected: { trace_score: number; per_transition_residuals: Record<string, number> }, where: string): void {
  const n = Object.keys(expected.per_transition_residuals).length;
  expectRecordClose(actual.per_transition_residuals, expected.per_transition_residuals, VALUE_TOLERANCE, `${where} residuals`);
  expectClose(actual.trace_score, expected.trace_score, scoreTolerance(n), `${where} trace_score`);
}
