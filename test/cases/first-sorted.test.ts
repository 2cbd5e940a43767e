import { describe, expect, it } from 'vitest';
import { firstSorted } from '../../src/cases/first-sorted.js';

/** What a page of GET /cases is: every id sorted, those after `after`, the first `limit` of them. */
function reference(ids: string[], limit: number, after?: string): string[] {
  return [...ids].sort().filter((id) => after === undefined || id > after).slice(0, limit);
}

describe('firstSorted (a page of GET /cases)', () => {
  it('equals sorting every id and slicing, for random ids, limits and starting points', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 200; round++) {
      const n = Math.floor(random() * 300);
      // Short ids over few letters: many share prefixes, and some repeat.
      const ids = Array.from({ length: n }, () => Array.from({ length: 1 + Math.floor(random() * 4) }, () => 'abAB-é😀'[Math.floor(random() * 8)]).join(''));
      const limit = 1 + Math.floor(random() * (n + 2));
      const after = random() < 0.5 ? undefined : ids[Math.floor(random() * ids.length)];
      expect(firstSorted(ids, limit, after), `round ${round}`).toEqual(reference(ids, limit, after));
    }
  });

  it('pages through every id once, in order', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `case-${(i * 7919) % 5000}`);
    const seen: string[] = [];
    for (let page = firstSorted(ids, 128); page.length > 0; page = firstSorted(ids, 128, page.at(-1))) seen.push(...page);
    expect(seen).toEqual([...ids].sort());
  });
});
