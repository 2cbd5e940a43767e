/** What the batcher needs of a model: rows in, activations out, and a way to stop. */
export interface ModelRunner {
  /** `rows` holds `count` input rows back to back; resolves to `count × outputs` activations, row-major. */
  run(rows: Float32Array, count: number): Promise<Float32Array>;
  /** Refuses new runs, lets the started ones finish, frees the session. */
  close(): Promise<void>;
}
