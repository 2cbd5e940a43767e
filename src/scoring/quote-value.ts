/** Longest part of a client's string quoted back in an error message: a 1 MB value must not make a 2 MB answer. */
const MAX_QUOTED = 60;

/** At most MAX_QUOTED code units and an ellipsis, never half of a surrogate pair (it would print as a lone \ud83d). */
export function shortened(value: string): string {
  if (value.length <= MAX_QUOTED) return value;
  const cut = /[\uD800-\uDBFF]/.test(value[MAX_QUOTED - 1]!) ? MAX_QUOTED - 1 : MAX_QUOTED;
  return `${value.slice(0, cut)}…`;
}

/** A value a client sent, quoted as JSON for an error message, long strings shortened. */
export function quoteValue(value: string | number): string {
  return JSON.stringify(typeof value === 'string' ? shortened(value) : value);
}
