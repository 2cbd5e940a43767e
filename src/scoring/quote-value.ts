/** Longest part of a client's string quoted back in an error message: a 1 MB value must not make a 2 MB answer. */
const MAX_QUOTED = 60;

/** At most `max` code units and an ellipsis, never half of a surrogate pair (it would print as a lone \ud83d). */
export function shortened(value: string, max = MAX_QUOTED): string {
  if (value.length <= max) return value;
  const cut = /[\uD800-\uDBFF]/.test(value[max - 1]!) ? max - 1 : max;
  return `${value.slice(0, cut)}…`;
}

/** A value a client sent, quoted as JSON for an error message, long strings shortened. */
export function quoteValue(value: string | number): string {
  return JSON.stringify(typeof value === 'string' ? shortened(value) : value);
}
