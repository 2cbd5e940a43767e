/**
 * What the diagnostics need from the ONNX graph: many input rows in, their activations out, in one run. It is the
 * shape of `InferenceBatcher.infer`; the service's InferenceBatcher is one, so diagnostics share runs with scoring;
 * the diagnostics never see a session or HTTP.
 */
export interface BatchModel {
  /** Inputs per row (`net.inputs.length`). */
  readonly width: number;
  /** Activations per row (`net.outputs.length`). */
  readonly outputs: number;
  /** Activations (`count × outputs`, row-major) for `count` rows laid out back to back; one call is one ONNX run. */
  infer(rows: Float32Array, count: number): Promise<Float32Array>;
}

/** Copies of `base`, one per value, with input `slot` set to each value; the Float32Array rounds it as the graph is fed. */
export function overrideRows(base: Float32Array, slot: number, values: readonly number[]): Float32Array {
  const width = base.length;
  const rows = new Float32Array(values.length * width);
  values.forEach((value, i) => {
    rows.set(base, i * width);
    rows[i * width + slot] = value;
  });
  return rows;
}

/** Column `column` of every row of a `count × outputs` activation block, widened to float64. */
export function columnOf(activations: Float32Array, outputs: number, column: number, count: number): number[] {
  const values: number[] = [];
  for (let i = 0; i < count; i++) values.push(activations[i * outputs + column]!);
  return values;
}

/** Counts the ONNX runs and rows a diagnostic used, for its response and for tests. */
export class CountingModel implements BatchModel {
  runs = 0;
  rows = 0;

  constructor(private readonly model: BatchModel) {}

  get width(): number {
    return this.model.width;
  }

  get outputs(): number {
    return this.model.outputs;
  }

  infer(rows: Float32Array, count: number): Promise<Float32Array> {
    this.runs++;
    this.rows += count;
    return this.model.infer(rows, count);
  }
}
