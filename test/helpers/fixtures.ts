import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'petra');
export const DEFAULT_MODEL = join(ROOT, 'models', 'loan_approval', 'model.onnx');

/** Every public bundle PETRA exported, with the outputs PETRA computed for it. */
export const BUNDLES = ['onnx_deployment', 'credit_approval_coloured', 'incident_management', 'compliance_audit', 'cost_ranked_refactoring', 'scale_200', 'scale_2000'] as const;
export const STREAM_BUNDLES = BUNDLES.filter((b) => !b.startsWith('scale_'));

export function modelPath(bundle: string): string {
  return join(FIXTURES, bundle, 'model.onnx');
}

export function readFixture<T>(bundle: string, file: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, bundle, file), 'utf8')) as T;
}

export interface AnomalyCase {
  id: string;
  tag: string;
  input_marking: Record<string, number>;
  input_values: Record<string, number> | null;
  events: { name: string; attributes: Record<string, string> }[];
  attributes: Record<string, string>;
  expected: { trace_score: number; per_transition_residuals: Record<string, number> };
}

/**
 * edge_cases_torch_only.json: an input_marking key PETRA's torch model reads but the ONNX graph has no input for (a
 * transition id, or a place that is not an exported input); `onnx_if_extra_keys_ignored` is PETRA's answer without it.
 */
export interface EdgeCase extends AnomalyCase {
  onnx_representable: false;
  onnx_if_extra_keys_ignored: AnomalyCase['expected'];
}

export interface ForwardCase {
  id: string;
  input_marking: Record<string, number>;
  input_values: Record<string, number> | null;
  expected_activations: Record<string, number>;
}

export interface StreamStep {
  step: number;
  op: 'event' | 'close' | 'score_case';
  event?: { case_id: string; name: string; timestamp: number; attributes: Record<string, string> };
  case_id?: string;
  expected: { case_id: string; n_events: number; trace_score: number; per_transition_residuals: Record<string, number>; closed: boolean } | null;
  expected_error: string | null;
}

export interface StreamScript {
  steps: StreamStep[];
  open_cases_at_end: string[];
}
