import { CountingModel, type BatchModel } from './model.js';

/** One input to differentiate: its slot in the row and the scale its step is relative to. */
export interface DifferencedInput {
  readonly slot: number;
  /** The input's natural unit: 1 on the marking channel, the guard's threshold on a guarded value channel. */
  readonly scale: number;
}

export interface InputGradient {
  readonly slot: number;
  readonly gradient: number;
  /** The outer step h: half the difference of the two float32 values fed, x₊ − x₋ = 2h. */
  readonly step: number;
}

export interface GradientsResult {
  /** Activation of the target under the request's own inputs (float32 widened). */
  baseActivation: number;
  gradients: Map<number, InputGradient>;
  calls: number;
  rows: number;
}

/**
 * `central`: one central difference D(h), error O(h²). `richardson`: D(h) and D(h/2) combined as (4·D(h/2) − D(h)) / 3,
 * which cancels the h² term (error O(h⁴)) for two more rows per input, so the step can stay large enough for float32
 * rounding not to matter even where the activation bends sharply.
 */
export type Scheme = 'central' | 'richardson';

/**
 * The relative step η, h = η·max(|x|, scale), and the scheme, chosen by measurement on the float32 graphs
 * (test/diagnostics/fd-accuracy.test.ts sweeps η = 2^-2 … 2^-14 for both schemes against the closed-form derivatives of
 * onnx_deployment and credit_approval_coloured, whose activations are products of sigmoids). Smaller steps lose to
 * float32 rounding of the activations (error ≈ noise/h), larger ones to truncation. Plain central differences have no
 * step that suits both nets (credit's best is 2^-7, onnx_deployment's, 4× steeper, 2^-11; the best compromise 2^-9
 * leaves 7.2e-4); Richardson at 2^-6 has the smallest worst case, 2.5e-4 of the largest gradient.
 */
export const RELATIVE_STEP = 2 ** -6;
export const SCHEME: Scheme = 'richardson';

/**
 * Upper bounds of the errors that sweep measured at RELATIVE_STEP with SCHEME, as every /sensitivity response states
 * them: per channel, the largest |g − g_exact| divided by the largest |g_exact| (measured: marking 2.5e-4 on credit,
 * 3.1e-5 on onnx_deployment; value 2.9e-5).
 */
export const MEASURED_ERROR = { marking: 3e-4, value: 5e-5 } as const;

export const ACCURACY_NOTE =
  'Measured against closed-form derivatives on two fixture nets whose activations are products of sigmoids: onnx_deployment ' +
  '(σ(4·(w·m − θ)), 51 markings in [0, 1]) and credit_approval_coloured (σ(w·m − θ)·σ(±0.001·(v − θ_guard)), 7 markings × 46 amounts in ' +
  '[0, 5000]), both outputs. Largest absolute errors: 1.8e-4 (onnx_deployment, gradients up to 5.7) and 9.3e-6 (credit, gradients up to ' +
  '0.038) on the marking channel, 7.2e-9 on the value channel (gradients up to 2.5e-4, step scale 1000); relative to the largest gradient ' +
  'at most 2.5e-4 (marking) and 2.9e-5 (value). Float32 rounding of the activations sets a floor of about 1e-5 / scale on the absolute ' +
  'error; where a gradient is near 0 (saturated sigmoids) its relative error is larger.';

/** Largest finite float32: near it a step would be fed as Infinity, so the difference becomes one-sided there. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** The step for an input at x: relative to |x|, but never below the input's scale (so 0 still gets a useful step). */
export function stepFor(x: number, scale: number, eta: number = RELATIVE_STEP): number {
  return eta * Math.max(Math.abs(x), scale);
}

/**
 * Finite-difference gradients of output `column` with respect to each input, all rows in one inference call: the base
 * row, then per input the rows with x ± h (and, for Richardson, x ± h/2). Each quotient divides by the difference of
 * the values actually fed (float32), not by 2h, so rounding the inputs costs nothing.
 */
export async function finiteDifferences(
  model: BatchModel,
  base: Float32Array,
  column: number,
  inputs: readonly DifferencedInput[],
  options: { eta?: number; scheme?: Scheme } = {},
): Promise<GradientsResult> {
  const eta = options.eta ?? RELATIVE_STEP;
  const fractions = (options.scheme ?? SCHEME) === 'richardson' ? [1, 0.5] : [1];
  const counted = new CountingModel(model);
  const width = base.length;
  const perInput = 2 * fractions.length;
  const count = 1 + perInput * inputs.length;
  const rows = new Float32Array(count * width);
  for (let r = 0; r < count; r++) rows.set(base, r * width);
  // fed[i][k] = [x₊, x₋] actually fed for input i at step fractions[k]·h
  const fed = inputs.map(({ slot, scale }, i) => {
    const x = base[slot]!;
    const h = stepFor(x, scale, eta);
    return fractions.map((fraction, k): [number, number] => {
      const plus = (1 + i * perInput + 2 * k) * width + slot;
      rows[plus] = Math.min(x + fraction * h, FLOAT32_MAX);
      rows[plus + width] = Math.max(x - fraction * h, -FLOAT32_MAX);
      return [rows[plus]!, rows[plus + width]!];
    });
  });
  const activations = await counted.infer(rows, count);
  const at = (row: number): number => activations[row * counted.outputs + column]!;
  const gradients = new Map<number, InputGradient>();
  inputs.forEach(({ slot }, i) => {
    const differences = fed[i]!.map(([plus, minus], k) => {
      const row = 1 + i * perInput + 2 * k;
      return plus === minus ? 0 : (at(row) - at(row + 1)) / (plus - minus);
    });
    const [coarse, fine] = differences as [number, number | undefined];
    const gradient = fine === undefined ? coarse : (4 * fine - coarse) / 3;
    const [plus, minus] = fed[i]![0]!;
    gradients.set(slot, { slot, gradient, step: (plus - minus) / 2 });
  });
  return { baseActivation: at(0), gradients, calls: counted.runs, rows: counted.rows };
}
