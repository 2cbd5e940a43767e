import type { BatchModel } from '../../src/diagnostics/model.js';
import { columnOf, overrideRows } from '../../src/diagnostics/model.js';

/**
 * compliance_audit's steep turn, where the activation of t_close_approved goes from 0.21 to 0.96 within ±0.016:
 * p_credit_checked 0.30 … 0.45 every 0.0005, and three points where an earlier error estimate fell 10–25× short of the
 * actual error (t_audit_log at 0.3335, t_approve at 0.3195, found by a probe with a float64 evaluation of the graph).
 */
export const STEEP_SWEEP = [0.3335, 0.3195, 0.3775, ...Array.from({ length: 301 }, (_, i) => 0.3 + (0.15 * i) / 300)];

/**
 * A reference derivative independent of the finite-difference tableau under test: a least-squares polynomial fit
 * (a Savitzky–Golay derivative) through many forward passes around x, in float64. Fitting `2·half + 1` points spread
 * over [x − width, x + width] averages the float32 rounding of the activations down by about √points, and a polynomial
 * of `degree` follows the curve far closer than one difference quotient does; the derivative at x is the fit's linear
 * coefficient. The offsets are those of the float32 values actually fed, so rounding the inputs costs nothing.
 */
export async function fittedDerivative(
  model: BatchModel,
  base: Float32Array,
  slot: number,
  column: number,
  width: number,
  { degree = 8, half = 200 }: { degree?: number; half?: number } = {},
): Promise<number> {
  const x = base[slot]!;
  const fed = Float32Array.from({ length: 2 * half + 1 }, (_, i) => x + (width * (i - half)) / half);
  const rows = overrideRows(base, slot, [...fed]);
  const y = columnOf(await model.infer(rows, fed.length), model.outputs, column, fed.length);
  const u = [...fed].map((v) => (v - x) / width);
  return polynomialFit(u, y, degree)[1]! / width;
}

/** Least-squares coefficients c₀ … c_degree of Σ c_k·u^k through (u, y), by Householder QR (stable where normal equations are not). */
export function polynomialFit(u: readonly number[], y: readonly number[], degree: number): number[] {
  const n = u.length;
  const m = degree + 1;
  const a = u.map((t) => Array.from({ length: m }, (_, k) => t ** k));
  const b = [...y];
  for (let k = 0; k < m; k++) {
    let norm = 0;
    for (let i = k; i < n; i++) norm += a[i]![k]! ** 2;
    norm = Math.sqrt(norm);
    const alpha = a[k]![k]! > 0 ? -norm : norm;
    const v = Array.from({ length: n }, (_, i) => (i < k ? 0 : a[i]![k]! - (i === k ? alpha : 0)));
    const vv = v.reduce((s, t) => s + t * t, 0);
    if (vv === 0) continue;
    const reflect = (get: (i: number) => number, set: (i: number, value: number) => void): void => {
      let dot = 0;
      for (let i = k; i < n; i++) dot += v[i]! * get(i);
      const scale = (2 * dot) / vv;
      for (let i = k; i < n; i++) set(i, get(i) - scale * v[i]!);
    };
    for (let j = k; j < m; j++) reflect((i) => a[i]![j]!, (i, value) => (a[i]![j] = value));
    reflect((i) => b[i]!, (i, value) => (b[i] = value));
  }
  const c = new Array<number>(m).fill(0);
  for (let k = m - 1; k >= 0; k--) {
    let s = b[k]!;
    for (let j = k + 1; j < m; j++) s -= a[k]![j]! * c[j]!;
    c[k] = s / a[k]![k]!;
  }
  return c;
}
