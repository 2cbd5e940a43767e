/**
 * Attribute names come from the log (CSV headers, XES keys, JSON keys), so a
 * name like `__proto__` must become an ordinary entry instead of replacing the
 * prototype of a plain object.
 */
export function emptyAttributes(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}
