/*
 * What of a URL may be shown in a log line or an error message: never its credentials, query or fragment, where a
 * webhook's token usually sits.
 */

/**
 * A URL that parses, as a log line may show it: its origin alone. The path is a secret as often as the query: Slack's
 * incoming webhooks (/services/T…/B…/<secret>), Discord's (/api/webhooks/<id>/<token>) and Mattermost's
 * (/hooks/<key>) are authorised by nothing else.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.pathname === '/' ? parsed.origin : `${parsed.origin}/…`;
  } catch {
    return '(invalid url)';
  }
}

/**
 * A value given as a URL, as an error message about it may quote it, whether or not it parses: credentials masked up to
 * the last @ (a value that does not parse may have a / or an @ in its password), path, query and fragment cut (the
 * path may be the token, as redactUrl says).
 */
export function withoutSecrets(text: string): string {
  const cut = text.replace(/\/\/.*@/s, '//…@').replace(/[?#].*$/s, (rest) => `${rest[0]}…`);
  // The path begins after the authority (`scheme://host`), if there is one, else at the first slash. Without a path
  // nothing is cut: a one-piece alternation let `ftp://host` fall back to cutting at its second slash (`ftp:/…`).
  const authority = /^(?:[^:/?#]*:)?\/\/[^/?#]*/s.exec(cut)?.[0] ?? '';
  return authority + cut.slice(authority.length).replace(/\/[^?#]+/s, '/…');
}
