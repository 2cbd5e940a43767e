/**
 * A diagnostics request that names something the model cannot answer for. `code` is the error body's `error`,
 * `path` a JSON pointer into the request body (without the leading `body`). The HTTP status of each code is
 * describe-error.ts's.
 *
 * - `unknown_place` / `unknown_transition`: not a node of the net at all; `message` is PETRA's own text.
 * - `invalid_search_range`: `search_range` is not `[lo, hi]` with lo ≤ hi.
 * - `place_not_flippable`: a place of the net, but no ONNX input on the chosen channel.
 * - `transition_not_output`: a transition of the net, but no ONNX output column.
 * - `missing_flip_value`: `flip_channel: "value"` without `input_values[flip_place]` (PETRA answers 500).
 */
export type DiagnosticsErrorCode = 'unknown_place' | 'unknown_transition' | 'invalid_search_range' | 'place_not_flippable' | 'transition_not_output' | 'missing_flip_value';

export class DiagnosticsError extends Error {
  constructor(
    readonly code: DiagnosticsErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'DiagnosticsError';
  }
}
