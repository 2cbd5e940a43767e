/** Row-major input rows (`count` × `width`) as the per-input columns the graph takes (`marking__p`, `value__p`: `[batch]`). */
export function toColumns(rows: Float32Array, count: number, width: number): Float32Array[] {
  const columns: Float32Array[] = [];
  for (let i = 0; i < width; i++) {
    const column = new Float32Array(count);
    for (let r = 0; r < count; r++) column[r] = rows[r * width + i]!;
    columns.push(column);
  }
  return columns;
}
