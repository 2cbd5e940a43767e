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

/** A character as the \uXXXX escapes of its UTF-16 code units (two for one beyond the BMP). */
function escaped(character: string): string {
  let out = '';
  for (let i = 0; i < character.length; i++) out += `\\u${character.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/**
 * JSON text with the invisible format characters escaped (a second byte-order mark, zero-width spaces, bidirectional
 * controls: Unicode's Cf), which JSON.stringify leaves as they are: a message that lists a header's column names then
 * shows `"\ufeffcase_id"` where it would show a `"case_id"` that seems to be the one it says is missing.
 */
export function visibleJson(value: unknown): string {
  return JSON.stringify(value).replace(/\p{Cf}/gu, escaped);
}

/** Longest name a command-line message quotes from a log (a header cell, a case id, an activity), and most names listed. */
export const LOG_QUOTE = { chars: 200, items: 50 } as const;

/** A log's names listed as visibleJson does, each shortened and the list cut after LOG_QUOTE.items: a 6 MB header line made a 7 MB message. */
export function visibleJsonList(values: readonly string[]): string {
  const shown = values.slice(0, LOG_QUOTE.items).map((value) => visibleJson(shortened(value, LOG_QUOTE.chars)));
  const more = values.length - shown.length;
  return `[${shown.join(',')}${more > 0 ? `, … and ${more} more` : ''}]`;
}

/**
 * Text with control and invisible format characters escaped as \uXXXX, for a message that quotes what a file held:
 * V8's JSON.parse errors quote the text raw, and a NUL or an escape sequence in a stderr line garbles the terminal.
 */
export function visibleText(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}]/gu, escaped);
}
