/**
 * Edits (insert, delete, replace, swap two neighbours) between two names: PETRASCORE_HOTS is one from PETRASCORE_HOST.
 * The optimal-string-alignment form of Damerau–Levenshtein, on two rows of a few dozen cells: names are short.
 */
export function editDistance(a: string, b: string): number {
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, before[j - 2]! + 1);
      current.push(best);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * Whether a body field named `key` is likely a slip for the field `name`: compared without case, dashes and underscores
 * (inputMarking, input-marking, Attributes), then a slip of one letter (attribute, attributs).
 */
export function isSlipOf(key: string, name: string): boolean {
  const squeeze = (text: string) => text.replace(/[-_]/g, '').toLowerCase();
  return editDistance(squeeze(key), squeeze(name)) <= 1;
}
