/**
 * Closed forms of two fixture graphs, for checking finite differences against exact derivatives. The constants are the
 * float32 initializers of each model.onnx (read from the graph: `inner.arc_weights.*`, `inner.transition_thresholds.*`,
 * `inner.guard_thresholds.*` and the `Constant` multipliers), and the formulas are the graphs' own node chains:
 *
 * onnx_deployment, input m = marking__p_application, sharpness 4:
 *   t_approve = σ(4·(a₀·m − θ₀)),  t_decline = σ(4·(a₁·m − θ₁))
 * credit_approval_coloured, inputs m = marking__p_submitted, v = value__p_submitted, sharpness 1; the guards are
 * PETRA's soft guards σ(±(v − g)/1000) (scale 1 / max(|1000|, 1) from the declared `>= 1000` / `< 1000`; g was trained):
 *   t_approve = σ(a₀·m − θ₀)·σ(0.001·(v − g₀)),  t_decline = σ(a₁·m − θ₁)·σ(−0.001·(v − g₁))
 *
 * `closed-form activations match the graph` in fd-accuracy.test.ts checks these against ONNX Runtime (within 2e-7), so
 * a changed fixture cannot leave them silently wrong.
 */
const f = Math.fround;
const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

const DEPLOYMENT = { a0: f(5.760554313659668), theta0: f(2.8353428840637207), a1: f(-4.783940315246582), theta1: f(-2.3646352291107178), sharpness: 4 };

/** onnx_deployment at marking m: activations and d/dm, columns [t_approve, t_decline]. */
export function deployment(m: number): { activation: [number, number]; dMarking: [number, number] } {
  const { a0, theta0, a1, theta1, sharpness: k } = DEPLOYMENT;
  const p = sigmoid(k * (a0 * m - theta0));
  const q = sigmoid(k * (a1 * m - theta1));
  return { activation: [p, q], dMarking: [k * a0 * p * (1 - p), k * a1 * q * (1 - q)] };
}

const CREDIT = {
  a0: f(6.224795818328857),
  theta0: f(-5.070695877075195),
  g0: f(1356.7314453125),
  a1: f(6.1640944480896),
  theta1: f(-5.1934380531311035),
  g1: f(1354.9027099609375),
  guardScale: f(0.001),
};

/** The trained guard thresholds of credit_approval_coloured (its declared guards say 1000). */
export const CREDIT_GUARDS = { approve: CREDIT.g0, decline: CREDIT.g1 };

/** credit_approval_coloured at marking m and amount v: activations, d/dm and d/dv, columns [t_approve, t_decline]. */
export function credit(m: number, v: number): { activation: [number, number]; dMarking: [number, number]; dValue: [number, number] } {
  const { a0, theta0, g0, a1, theta1, g1, guardScale: c } = CREDIT;
  const p = sigmoid(a0 * m - theta0);
  const s = sigmoid(c * (v - g0));
  const q = sigmoid(a1 * m - theta1);
  const t = sigmoid(-c * (v - g1));
  return {
    activation: [p * s, q * t],
    dMarking: [a0 * p * (1 - p) * s, a1 * q * (1 - q) * t],
    dValue: [p * c * s * (1 - s), -q * c * t * (1 - t)],
  };
}

/** Where the sweeps look: credit at 7 markings × 46 amounts (around the guards too), deployment at 51 markings. */
export const CREDIT_MARKINGS = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1];
export const CREDIT_AMOUNTS = [...Array.from({ length: 41 }, (_, i) => i * 125), 999, 1000, 1001, 1354.9, 1356.73];
export const DEPLOYMENT_MARKINGS = Array.from({ length: 51 }, (_, i) => i / 50);
