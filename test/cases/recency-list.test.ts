import { describe, expect, it } from 'vitest';
import { RecencyList, type RecencyLinks } from '../../src/cases/recency-list.js';

interface Item extends RecencyLinks<Item> {
  id: number;
}

describe('RecencyList', () => {
  it('keeps the same order as a reference array through random pushes, touches and removals', () => {
    const list = new RecencyList<Item>();
    const reference: Item[] = [];
    let seed = 5;
    const random = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    for (let step = 0; step < 5000; step++) {
      const op = reference.length === 0 ? 0 : random(3);
      if (op === 0) {
        const item: Item = { id: step, older: undefined, newer: undefined };
        list.push(item);
        reference.push(item);
      } else {
        const item = reference[random(reference.length)]!;
        reference.splice(reference.indexOf(item), 1);
        if (op === 1) {
          list.touch(item);
          reference.push(item);
        } else {
          list.remove(item);
          expect([item.older, item.newer]).toEqual([undefined, undefined]);
        }
      }
      if (step % 97 === 0) {
        expect([...list].map((i) => i.id)).toEqual(reference.map((i) => i.id));
        expect([list.oldest?.id, list.newest?.id]).toEqual([reference[0]?.id, reference.at(-1)?.id]);
      }
    }
    expect([...list].map((i) => i.id)).toEqual(reference.map((i) => i.id));
  });
});
