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
  /** The finest step h the chosen estimate used, as fed in float32: x₊ − x₋ = 2h (h itself where the difference is one-sided). */
  readonly step: number;
  /** Ridders' estimate of |gradient − exact|, never below the float32 rounding floor of the steps it compared (see `ridders`). */
  readonly error: number;
}

export interface GradientsResult {
  /** Activation of the target under the request's own inputs (float32 widened). */
  baseActivation: number;
  gradients: Map<number, InputGradient>;
  calls: number;
  rows: number;
}

/**
 * Ridders' method: central differences D(h_k) at the steps h_k = h₀ / ratio^k, k = 0 … steps − 1, h₀ = η₀·max(|x|, scale),
 * extrapolated to h → 0 in a Neville tableau; each input answers the entry with the smallest error estimate. Chosen by
 * the sweep in test/diagnostics/fd-accuracy.test.ts (η₀ ∈ 2^-3, 2^-4; ratio 2, 1.6; 8–12 steps) against closed-form
 * derivatives (onnx_deployment, credit_approval_coloured) and a converged reference on compliance_audit, whose
 * activation turns from 0.21 to 0.96 within ±0.016 (the old fixed step, 2^-6 ≈ 0.016, straddled it and answered −0.04
 * for +0.178):
 * - η₀ = 2^-3: on the smooth nets the large steps extrapolate best, so they are at least as accurate as the old fixed
 *   step; the tableau's own error estimates throw those entries out where the curve turns within them.
 * - ratio 2, 8 steps: the finest step is 2^-10 ≈ 1e-3 of the scale, small enough for compliance_audit's turn and large
 *   enough that float32 rounding of the activations costs at most ~5e-4 absolute there; 10 or 12 steps were no better.
 *   16 rows per input plus the base row (scale_2000, the widest fixture, has 2 inputs: 33 rows with `all: true`, far
 *   below the default 1024 of --max-batch-rows).
 */
export interface RiddersParameters {
  /** η₀ in h₀ = η₀·max(|x|, scale). */
  readonly initialStep: number;
  /** Each step is the previous one divided by this. */
  readonly ratio: number;
  /** Steps in the tableau; 2 rows each per input. */
  readonly steps: number;
}

export const RIDDERS: RiddersParameters = { initialStep: 2 ** -3, ratio: 2, steps: 8 };

/**
 * Absolute rounding noise of one activation, about 16 float32 ulps at 1 (activations are products and sums of a few
 * sigmoids, each rounded): the floor of an error estimate is this times max(1, |activations read|) over the finest
 * difference fed. Below 2^-21 the sweep found estimates smaller than the actual error on the smooth nets; at 2^-21,
 * compliance_audit's other transitions than t_close_approved had errors up to 1.9× it at the finest step.
 */
export const ACTIVATION_NOISE = 2 ** -20;

export const ACCURACY_NOTE =
  "Per gradient, error_estimate is Ridders' estimate: the largest of the chosen tableau entry's distances to its two lower-order " +
  'neighbours and to the entry of the same order one step finer, never below the float32 rounding floor 2^-20·max(1, |activation|) / (x₊ − x₋). ' +
  'Measured (test/diagnostics/fd-accuracy.test.ts) against closed-form derivatives on onnx_deployment (51 markings, gradients up to 5.7: ' +
  'worst |error| 1.4e-5) and credit_approval_coloured (7 markings × 46 amounts: 2.3e-6 on the marking channel, 2.1e-9 on the value channel ' +
  'with scale 1000), and against a converged reference on compliance_audit, whose activations turn within ±0.016 (all six transitions, ' +
  'p_credit_checked 0.30–0.45 every 0.0005, gradients up to 69: worst 1.3e-3, 1.9e-5 relative); at every one of these points the estimate ' +
  'bounded the actual error. It is an estimate, not a proof. Where the activation is saturated (within ~1e-4 of 0 or 1) float32 cannot ' +
  'resolve gradients below ~1e-4, and the estimate can fall short of errors of that size.';

/** Largest finite float32: near it a step would be fed as Infinity, so the difference becomes one-sided there. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** The first (largest) step for an input at x: relative to |x|, but never below the input's scale (so 0 still gets a useful step). */
export function initialStepFor(x: number, scale: number, eta: number = RIDDERS.initialStep): number {
  return eta * Math.max(Math.abs(x), scale);
}

/** A tableau's answer: the entry with the smallest error estimate, the finest step it used, and that estimate. */
export interface RiddersEstimate {
  readonly value: number;
  readonly error: number;
  /** Index of the finest difference the chosen entry used. */
  readonly finest: number;
}

/**
 * Ridders' extrapolation of `differences` (D at steps shrinking by `ratio` each) to step 0. `order` is the power of h
 * the leading error term of D goes with, and each tableau column removes one more: 2 for central differences (only even
 * powers), 1 for one-sided ones. `floor(k)` is the rounding floor of an entry whose finest difference is k.
 *
 * Unlike Numerical Recipes' dfridr, the whole tableau is searched rather than stopping once a diagonal entry moves by
 * more than twice the best error so far: all rows come from one batched run anyway, and that stop fires at the first
 * steps when they straddle a steep turn of the activation (on compliance_audit it kept errors of 60 at h₀ = 2^-3),
 * which is exactly where the finer steps are needed. The rounding floor does the stop's other job, keeping noisy
 * small-step entries from claiming small errors. An entry's error is also its distance to the entry of the same order
 * one step finer (dfridr compares only with the two entries it was made from), which keeps a chance agreement of
 * coarse entries from claiming a small error.
 */
export function ridders(differences: readonly number[], ratio: number, order: 1 | 2, floor: (finest: number) => number = () => 0): RiddersEstimate {
  const factor = ratio ** order;
  const tableau: number[][] = [[differences[0]!]];
  for (let i = 1; i < differences.length; i++) {
    const row: number[] = [differences[i]!];
    let power = factor;
    for (let j = 1; j <= i; j++) {
      row.push((power * row[j - 1]! - tableau[i - 1]![j - 1]!) / (power - 1));
      power *= factor;
    }
    tableau.push(row);
  }
  let best: RiddersEstimate = { value: differences[0]!, error: Infinity, finest: 0 };
  for (let i = 1; i < tableau.length; i++) {
    const row = tableau[i]!;
    const finer = tableau[i + 1];
    for (let j = 1; j <= i; j++) {
      let error = Math.max(Math.abs(row[j]! - row[j - 1]!), Math.abs(row[j]! - tableau[i - 1]![j - 1]!), floor(i));
      // Two coarse entries can agree by chance where the curve turns within their steps (compliance_audit, 25× short
      // of the actual error): the same order from the next finer step has to agree too.
      if (finer !== undefined) error = Math.max(error, Math.abs(row[j]! - finer[j]!), floor(i + 1));
      if (error <= best.error) best = { value: row[j]!, error, finest: i };
    }
  }
  return best;
}

/**
 * Gradients of output `column` with respect to each input by Ridders' method, all rows in one inference call: the base
 * row, then per input and step the rows x₊, x₋. Each difference divides by the difference of the values actually fed
 * (float32), not by 2h, so rounding the inputs costs nothing. Where x + h₀ or x − h₀ would pass the largest float32,
 * the input gets one-sided differences from x (its x₊ rows are x itself) and a first-order tableau.
 */
export async function finiteDifferences(
  model: BatchModel,
  base: Float32Array,
  column: number,
  inputs: readonly DifferencedInput[],
  parameters: RiddersParameters = RIDDERS,
): Promise<GradientsResult> {
  const { initialStep, ratio, steps } = parameters;
  // With one step there is no tableau and so no error estimate.
  if (!(steps >= 2)) throw new RangeError(`Ridders needs at least 2 steps, got ${steps}`);
  const counted = new CountingModel(model);
  const width = base.length;
  const perInput = 2 * steps;
  const count = 1 + perInput * inputs.length;
  const rows = new Float32Array(count * width);
  for (let r = 0; r < count; r++) rows.set(base, r * width);
  const plan = inputs.map(({ slot, scale }, i) => {
    const x = base[slot]!;
    const h0 = initialStepFor(x, scale, initialStep);
    // Backwards when the top end would overflow, forwards when the bottom would; both in turn cannot happen (|x| ≤ max).
    const side = x + h0 > FLOAT32_MAX ? -1 : x - h0 < -FLOAT32_MAX ? 1 : 0;
    const fed = Array.from({ length: steps }, (_, k): [number, number] => {
      const h = h0 / ratio ** k;
      const plus = (1 + i * perInput + 2 * k) * width + slot;
      rows[plus] = side < 0 ? x : x + h;
      rows[plus + width] = side > 0 ? x : x - h;
      return [rows[plus]!, rows[plus + width]!];
    });
    return { slot, fed, oneSided: side !== 0 };
  });
  const activations = await counted.infer(rows, count);
  const at = (row: number): number => activations[row * counted.outputs + column]!;
  const gradients = new Map<number, InputGradient>();
  plan.forEach(({ slot, fed, oneSided }, i) => {
    const row = (k: number): number => 1 + i * perInput + 2 * k;
    const differences = fed.map(([plus, minus], k) => (plus === minus ? 0 : (at(row(k)) - at(row(k) + 1)) / (plus - minus)));
    // Activations are rounded in absolute terms near 1 even when small, hence max(1, ·); dividing by a step amplifies it.
    const largest: number[] = [];
    fed.forEach((_, k) => largest.push(Math.max(largest[k - 1] ?? Math.max(1, Math.abs(at(0))), Math.abs(at(row(k))), Math.abs(at(row(k) + 1)))));
    const floor = (k: number): number => {
      const [plus, minus] = fed[k]!;
      return plus === minus ? 0 : (ACTIVATION_NOISE * largest[k]!) / (plus - minus);
    };
    const estimate = ridders(differences, ratio, oneSided ? 1 : 2, floor);
    const [plus, minus] = fed[estimate.finest]!;
    gradients.set(slot, { slot, gradient: estimate.value, step: oneSided ? plus - minus : (plus - minus) / 2, error: estimate.error });
  });
  return { baseActivation: at(0), gradients, calls: counted.runs, rows: counted.rows };
}
