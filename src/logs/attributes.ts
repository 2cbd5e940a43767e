/**
 * Attribute names come from the log (CSV headers, XES keys, JSON keys), so a
 * name like `__proto__` must become an ordinary entry instead of replacing the
 * prototype of a plain object.
 */
// Instances of a constructor whose prototype has no prototype: `__proto__` is an ordinary key as with
// Object.create(null), but V8 keeps them as fast objects rather than dictionaries.
function Attributes(): void {}
Attributes.prototype = Object.create(null) as object;

export function emptyAttributes(): Record<string, string> {
  return new (Attributes as unknown as new () => Record<string, string>)();
}
