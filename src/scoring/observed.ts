/**
 * Which scored columns have been observed. Up to 31 columns fit in one small integer, which keeps per-case state tiny
 * for typical process models; larger nets use a bit array.
 */
export type Observed = number | Uint32Array;

const SMALL_LIMIT = 31;

export function emptyObserved(columns: number): Observed {
  return columns <= SMALL_LIMIT ? 0 : new Uint32Array(Math.ceil(columns / 32));
}

/** Returns the updated set; the small form is a value, so callers must keep the result. */
export function markObserved(observed: Observed, column: number): Observed {
  if (typeof observed === 'number') return observed | (1 << column);
  observed[column >>> 5]! |= 1 << (column & 31);
  return observed;
}

export function isObserved(observed: Observed, column: number): boolean {
  if (typeof observed === 'number') return (observed & (1 << column)) !== 0;
  return (observed[column >>> 5]! & (1 << (column & 31))) !== 0;
}

export function copyObserved(observed: Observed): Observed {
  return typeof observed === 'number' ? observed : observed.slice();
}
