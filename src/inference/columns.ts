/**
 * Row-major input rows (`count` × `width`) as the per-input columns the graph takes (`marking__p`, `value__p`:
 * `[batch]`): views of one buffer, so a run allocates one ArrayBuffer for its inputs, not one per column.
 */
export function toColumns(rows: Float32Array, count: number, width: number): Float32Array[] {
  const all = new Float32Array(count * width);
  const columns: Float32Array[] = [];
  for (let i = 0; i < width; i++) {
    const column = all.subarray(i * count, (i + 1) * count);
    for (let r = 0; r < count; r++) column[r] = rows[r * width + i]!;
    columns.push(column);
  }
  return columns;
}
