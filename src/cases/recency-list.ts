/** The links an item carries to sit in a RecencyList. */
export interface RecencyLinks<T> {
  older: T | undefined;
  newer: T | undefined;
}

/**
 * Items from least to most recently touched, linked through the items themselves: touching one is a few pointer
 * writes. (Re-inserting into a Map to keep its order, as before, left a deleted entry per touch; lookups slowed and a
 * map of a million open cases was rebuilt every few hundred thousand events.)
 */
export class RecencyList<T extends RecencyLinks<T>> {
  oldest: T | undefined;
  newest: T | undefined;

  /** Appends an item that is in no list. */
  push(item: T): void {
    item.older = this.newest;
    item.newer = undefined;
    if (this.newest !== undefined) this.newest.newer = item;
    else this.oldest = item;
    this.newest = item;
  }

  remove(item: T): void {
    if (item.older !== undefined) item.older.newer = item.newer;
    else if (this.oldest === item) this.oldest = item.newer;
    if (item.newer !== undefined) item.newer.older = item.older;
    else if (this.newest === item) this.newest = item.older;
    item.older = undefined;
    item.newer = undefined;
  }

  /** Moves an item of this list to the most recent end. */
  touch(item: T): void {
    if (this.newest === item) return;
    this.remove(item);
    this.push(item);
  }

  /** The `count` items, oldest first, as an array: a walk of the links, several times faster than the generator. */
  toArray(count: number): T[] {
    const items = new Array<T>(count);
    let at = 0;
    for (let item = this.oldest; item !== undefined && at < count; item = item.newer) items[at++] = item;
    items.length = at;
    return items;
  }

  /** Oldest first. */
  *[Symbol.iterator](): Generator<T> {
    for (let item = this.oldest; item !== undefined; ) {
      const next: T | undefined = item.newer;
      yield item;
      item = next;
    }
  }
}
