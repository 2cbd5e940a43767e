import type { IncomingHttpHeaders } from 'node:http';

/** Longest `x-request-id` honoured: it is echoed, logged on every line and kept as a live-feed case id. */
const MAX_REQUEST_ID = 128;

/** What a client is told of the `x-request-id` every answer carries (the OpenAPI document's words). */
export const REQUEST_ID_MEANING = `the request's own x-request-id when it is 1–${MAX_REQUEST_ID} visible ASCII characters, else one the server made; log lines and the live feed name the request by it`;

/**
 * The caller's `x-request-id` when it is 1–128 visible ASCII characters, else one of ours (`req-<n>` in base 36, as
 * Fastify numbers them). An id of any length or with control characters would be echoed into a header, every log
 * line and the live feed.
 */
export type RequestIds = (req: { readonly headers: IncomingHttpHeaders }) => string;

/**
 * Fastify's `genReqId`, and the id of the answers Node's server makes before a request reaches Fastify (a request
 * whose headers Node could not parse has none to echo: it gets one of ours).
 */
export function requestIdGenerator(): RequestIds {
  let next = 0;
  return (req) => {
    const given = req.headers['x-request-id'];
    if (typeof given === 'string' && given.length > 0 && given.length <= MAX_REQUEST_ID && /^[\x21-\x7e]+$/.test(given)) return given;
    next = (next + 1) % Number.MAX_SAFE_INTEGER;
    return `req-${next.toString(36)}`;
  };
}
