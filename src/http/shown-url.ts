/*
 * What of a URL may be shown in a log line or an error message: never its credentials, query or fragment, where a
 * webhook's token usually sits.
 */

/** A URL that parses, as a log line may show it: its origin and path. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

/**
 * A value given as a URL, as an error message about it may quote it, whether or not it parses: credentials masked up to
 * the last @ (a value that does not parse may have a / or an @ in its password), query and fragment cut.
 */
export function withoutSecrets(text: string): string {
  return text.replace(/\/\/.*@/s, '//…@').replace(/[?#].*$/s, (rest) => `${rest[0]}…`);
}
