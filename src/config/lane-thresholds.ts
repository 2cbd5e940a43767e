/** One `--alert-lane-threshold` value, LANE=SCORE (the lane may itself contain '='), or what is wrong with it. */
export function parseLaneThreshold(value: string): { lane: string; score: number } | { problem: string } {
  const at = value.lastIndexOf('=');
  const scoreText = value.slice(at + 1);
  // Decimal numerals only, as every number option takes: Number() would also read '0x10' as 16.
  const score = /^\s*[+]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/.test(scoreText) ? Number(scoreText) : Number.NaN;
  if (at <= 0 || scoreText.trim() === '' || !Number.isFinite(score) || score < 0) return { problem: `'${value}' is not LANE=SCORE with a score of at least 0` };
  return { lane: value.slice(0, at), score };
}

/** The lanes' alert thresholds from `--alert-lane-threshold` values; throws on a value the option check refuses. */
export function laneThresholds(values: readonly string[]): Map<string, number> {
  const thresholds = new Map<string, number>();
  for (const value of values) {
    const parsed = parseLaneThreshold(value);
    if ('problem' in parsed) throw new Error(parsed.problem);
    thresholds.set(parsed.lane, parsed.score);
  }
  return thresholds;
}
