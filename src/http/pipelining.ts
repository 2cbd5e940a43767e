import type { ServerResponse } from 'node:http';

/** Route config of the routes that read or change case state (the request-tracking plugin reads it). */
export const ORDERED_PER_CONNECTION = { orderedPerConnection: true } as const;

/**
 * Starts `start` once the answers to this connection's earlier requests are written: at once for a client that waits
 * for each answer, as HTTP clients do. With HTTP/1.1 pipelining the requests arrive back to back and Node hands each
 * over as soon as its head is parsed, so a GET or a close without a body would overtake an event whose body is still
 * being read, and see the case without it. Node gives a queued answer its connection (the 'socket' event) when the
 * answer before it is written; until then `socket` is null. No state of our own: a connection that goes away never
 * gives the queued answers their socket, and their requests are dropped unhandled, as Node drops their answers.
 */
export function afterEarlierAnswers(response: ServerResponse, start: () => void): void {
  if (response.socket !== null) start();
  else response.once('socket', () => start());
}
