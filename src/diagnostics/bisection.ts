import { columnOf, CountingModel, overrideRows, type BatchModel } from './model.js';

/** PETRA's firing threshold: a transition "fires" when its activation is above it. */
export const FIRING_THRESHOLD = 0.5;
/** PETRA's `max_iterations`. */
export const MAX_ITERATIONS = 50;
/** PETRA's default `interval_tolerance` as a fraction of the search range. */
export const INTERVAL_FRACTION = 1e-4;

/** One counterfactual question: move input `slot` of `base` over `range` until output `column` crosses 0.5. */
export interface CounterfactualProblem {
  /** The request's input row (defaults filled in); `base[slot]` is the value the graph was fed. */
  readonly base: Float32Array;
  readonly slot: number;
  readonly column: number;
  readonly range: readonly [number, number];
  /** Stop once |activation − 0.5| < tolerance. */
  readonly tolerance: number;
}

export interface CounterfactualResult {
  found: boolean;
  /** The last bisection midpoint (float64; the graph was fed its float32 rounding). */
  input: number | null;
  /** Its activation (float32 widened). */
  activation: number | null;
  /** Activation under the request's own inputs. */
  originalActivation: number;
  /** Bisection midpoints evaluated on the way to `input` (PETRA's loop iterations). */
  iterations: number;
  /** Crossings the first call's grid shows: points at exactly 0.5 and cells whose ends are strictly on opposite sides (null: no grid). */
  crossingsOnGrid: number | null;
  /** Points of that grid, end points included (null: no grid). */
  gridPoints: number | null;
  /** Batched inference calls made, and the rows they held. */
  calls: number;
  rows: number;
}

const side = (activation: number): number => activation - FIRING_THRESHOLD;

/**
 * PETRA's `find_counterfactual` loop, literally: one forward pass per evaluation (original, lo, hi, then one per
 * midpoint), float64 arithmetic on the bracket, float32 activations widened. Kept as the reference the batched search
 * is checked against.
 */
export async function plainBisection(model: BatchModel, problem: CounterfactualProblem): Promise<CounterfactualResult> {
  const counted = new CountingModel(model);
  const activationAt = async (row: Float32Array): Promise<number> => columnOf(await counted.infer(row, 1), counted.outputs, problem.column, 1)[0]!;
  const act = (x: number): Promise<number> => activationAt(overrideRows(problem.base, problem.slot, [x]));
  const originalActivation = await activationAt(problem.base);
  let [lo, hi] = problem.range;
  let loAct = await act(lo);
  const hiAct = await act(hi);
  const result = (found: boolean, input: number | null, activation: number | null, iterations: number): CounterfactualResult => ({
    found,
    input,
    activation,
    originalActivation,
    iterations,
    crossingsOnGrid: null,
    gridPoints: null,
    calls: counted.runs,
    rows: counted.rows,
  });
  if (side(loAct) * side(hiAct) > 0) return result(false, null, null, 0);
  const intervalTolerance = (hi - lo) * INTERVAL_FRACTION;
  let input = 0.5 * (lo + hi);
  let activation = FIRING_THRESHOLD;
  let iterations = 0;
  for (let i = 0; i < MAX_ITERATIONS; i++) {
    const mid = 0.5 * (lo + hi);
    const midAct = await act(mid);
    iterations++;
    input = mid;
    activation = midAct;
    if (Math.abs(midAct - FIRING_THRESHOLD) < problem.tolerance) break;
    if (hi - lo < intervalTolerance) break;
    if (side(midAct) * side(loAct) < 0) hi = mid;
    else [lo, loAct] = [mid, midAct];
  }
  return result(true, input, activation, iterations);
}

/**
 * PETRA's bisection loop as a resumable state machine: it advances as far as the activations it has been given allow,
 * then asks for the midpoints below its current bracket. Its arithmetic is PETRA's, so the midpoints it will want are
 * exactly points of the dyadic tree over that bracket, bit for bit.
 */
export class BisectionReplay {
  iterations = 0;
  input: number;
  activation = FIRING_THRESHOLD;
  done = false;

  constructor(
    private lo: number,
    private hi: number,
    private loAct: number,
    private readonly tolerance: number,
    private readonly intervalTolerance: number,
  ) {
    this.input = 0.5 * (lo + hi);
  }

  /** A grid point where the activation is exactly 0.5: a crossing that needs no bisection. */
  static hit(x: number, activation: number): BisectionReplay {
    const replay = new BisectionReplay(x, x, activation, 0, 0);
    replay.input = x;
    replay.activation = activation;
    replay.done = true;
    return replay;
  }

  /** Runs PETRA's loop on known activations; false when it needs the activation of a midpoint not in `known` first. */
  advance(known: ReadonlyMap<number, number>): boolean {
    while (!this.done && this.iterations < MAX_ITERATIONS) {
      const mid = 0.5 * (this.lo + this.hi);
      const midAct = known.get(mid);
      if (midAct === undefined) return false;
      this.iterations++;
      this.input = mid;
      this.activation = midAct;
      if (Math.abs(midAct - FIRING_THRESHOLD) < this.tolerance || this.hi - this.lo < this.intervalTolerance) this.done = true;
      else if (side(midAct) * side(this.loAct) < 0) this.hi = mid;
      else [this.lo, this.loAct] = [mid, midAct];
    }
    this.done = true;
    return true;
  }

  /**
   * The midpoints the next `levels` iterations can ask for: the dyadic tree over the current bracket (2^levels − 1
   * points), computed with PETRA's `0.5·(lo + hi)`, no deeper than the loop can still go.
   */
  nextPoints(levels: number): number[] {
    const points: number[] = [];
    let brackets: [number, number][] = [[this.lo, this.hi]];
    const depth = Math.min(levels, this.levelsLeft());
    for (let level = 0; level < depth; level++) {
      const next: [number, number][] = [];
      for (const [a, b] of brackets) {
        const mid = 0.5 * (a + b);
        points.push(mid);
        next.push([a, mid], [mid, b]);
      }
      brackets = next;
    }
    return points;
  }

  /** At most how many more midpoints the loop evaluates: it stops at the first bracket narrower than the interval tolerance. */
  private levelsLeft(): number {
    const remaining = MAX_ITERATIONS - this.iterations;
    let width = this.hi - this.lo;
    let levels = 1;
    while (levels < remaining && width > 0 && !(width < this.intervalTolerance)) {
      width *= 0.5;
      levels++;
    }
    // One level of slack: PETRA's brackets come from float64 midpoints, whose widths may round across the tolerance.
    return Math.min(levels + 1, remaining);
  }
}

export interface BatchedOptions {
  /** Bisection levels one inference call covers (2^levels − 1 midpoints per bracket); see `levelsPerCall`. */
  levels: number;
  /**
   * Opt-in: answer the crossing nearest to this input (the value the graph was fed) when activation − 0.5 changes sign
   * more than once on the first call's grid, instead of the one PETRA's bisection happens to reach. Then a crossing
   * is also found when the range's end points are on the same side.
   */
  nearestTo?: number | undefined;
}

/**
 * The bisection levels one inference call may cover: the first call holds 2^levels + 2 rows (grid, end points, the
 * original row), which must stay below `maxRows` (the batcher's run size, so that the call is one ONNX run) and keep
 * the activation block within 1 Mi floats (4 MiB) for wide nets. Between 1 and `maxLevels`.
 */
export function levelsPerCall(maxRows: number, outputs: number, maxLevels = 12): number {
  const activationBudget = 1 << 20;
  let levels = 1;
  while (levels < maxLevels) {
    const rows = 2 ** (levels + 1) + 2;
    if (rows >= maxRows || rows * Math.max(outputs, 1) > activationBudget) break;
    levels++;
  }
  return levels;
}

/**
 * PETRA's counterfactual search in a few batched calls instead of up to 53 sequential passes. The first call
 * evaluates the original row, both end points and the first `levels` levels of the bisection tree — together a
 * uniform grid of 2^levels + 1 points over the range. PETRA's loop is then replayed on those activations; only if it
 * goes deeper does another call evaluate the next levels of the subtree inside its current bracket (refinement). The
 * replay makes the same comparisons on the same float32-fed points as `plainBisection`, so the answer is PETRA's bit
 * for bit, as long as ONNX Runtime gives a row the same activations whatever batch it is in.
 *
 * With `nearestTo`, every grid point at exactly 0.5 is a crossing, and so is every grid cell whose ends are strictly on
 * opposite sides of 0.5; the cells that can hold the one nearest to `nearestTo` are refined together (PETRA's bisection
 * inside each cell, PETRA's tolerances), and the nearest result wins. Two crossings inside one grid cell
 * (range / 2^levels wide) cancel out and are not seen.
 */
export async function batchedBisection(model: BatchModel, problem: CounterfactualProblem, options: BatchedOptions): Promise<CounterfactualResult> {
  const counted = new CountingModel(model);
  const known = new Map<number, number>();
  const evaluate = async (points: readonly number[]): Promise<void> => {
    const fresh = [...new Set(points)].filter((x) => !known.has(x));
    if (fresh.length === 0) return;
    const activations = await counted.infer(overrideRows(problem.base, problem.slot, fresh), fresh.length);
    columnOf(activations, counted.outputs, problem.column, fresh.length).forEach((a, i) => known.set(fresh[i]!, a));
  };

  const [lo, hi] = problem.range;
  const original = problem.base[problem.slot]!;
  const intervalTolerance = (hi - lo) * INTERVAL_FRACTION;
  const tree = new BisectionReplay(lo, hi, Number.NaN, problem.tolerance, intervalTolerance).nextPoints(options.levels);
  await evaluate([original, lo, hi, ...tree]);
  const originalActivation = known.get(original)!;
  const loAct = known.get(lo)!;
  const hiAct = known.get(hi)!;

  // Crossings on the grid: points where the activation is exactly 0.5, and cells whose end points are strictly on
  // opposite sides of it.
  const grid = [...new Set([lo, ...tree, hi])].sort((a, b) => a - b);
  const cells: [number, number][] = [];
  for (let i = 0; i < grid.length; i++) {
    const a = grid[i]!;
    const b = grid[i + 1];
    if (side(known.get(a)!) === 0) cells.push([a, a]);
    else if (b !== undefined && side(known.get(a)!) * side(known.get(b)!) < 0) cells.push([a, b]);
  }
  const result = (replay?: BisectionReplay): CounterfactualResult => ({
    found: replay !== undefined,
    input: replay?.input ?? null,
    activation: replay?.activation ?? null,
    originalActivation,
    iterations: replay?.iterations ?? 0,
    crossingsOnGrid: cells.length,
    gridPoints: grid.length,
    calls: counted.runs,
    rows: counted.rows,
  });

  const target = options.nearestTo;
  // One crossing, bracketed by the range: PETRA's bisection reaches it too, so nearest answers exactly what it does
  // (refined inside its grid cell alone, the same crossing would come out a little differently).
  const onlyCrossing = cells.length === 1 && cells[0]![0] !== cells[0]![1] && side(loAct) * side(hiAct) < 0;
  let replays: BisectionReplay[];
  if (target === undefined || onlyCrossing) {
    if (side(loAct) * side(hiAct) > 0) return result();
    replays = [new BisectionReplay(lo, hi, loAct, problem.tolerance, intervalTolerance)];
  } else {
    if (cells.length === 0) return result();
    replays = nearestCandidates(cells, target).map(([a, b]) => (a === b ? BisectionReplay.hit(a, known.get(a)!) : new BisectionReplay(a, b, known.get(a)!, problem.tolerance, intervalTolerance)));
  }

  for (;;) {
    const waiting = replays.filter((r) => !r.advance(known));
    if (waiting.length === 0) break;
    // The brackets still open share one call, within the first call's row budget.
    const levels = Math.max(1, options.levels - Math.ceil(Math.log2(waiting.length)));
    await evaluate(waiting.flatMap((r) => r.nextPoints(levels)));
  }

  const best = target === undefined ? replays[0]! : replays.reduce((a, b) => (Math.abs(b.input - target) < Math.abs(a.input - target) ? b : a));
  return result(best);
}

/**
 * The crossing cells that may hold the crossing nearest to `target`: a cell's crossing lies between its near and far
 * end's distance from the target, so every cell whose near distance is within the smallest far distance qualifies.
 */
function nearestCandidates(cells: readonly [number, number][], target: number): [number, number][] {
  const near = ([a, b]: [number, number]) => (target < a ? a - target : target > b ? target - b : 0);
  const far = ([a, b]: [number, number]) => Math.max(Math.abs(target - a), Math.abs(target - b));
  const bound = Math.min(...cells.map(far));
  return cells.filter((cell) => near(cell) <= bound);
}
