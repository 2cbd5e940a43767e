import type { Socket } from 'node:net';

const kTurns = Symbol('petrascore.connectionTurns');

/** Route config of the routes that read or change case state (the request-tracking plugin reads it). */
export const ORDERED_PER_CONNECTION = { orderedPerConnection: true } as const;

/** The requests of one connection that touch case state: whether one is being handled, and those waiting for it. */
interface Turns {
  busy: boolean;
  waiting: (() => void)[];
}

type WithTurns = Socket & { [kTurns]?: Turns };

/**
 * Starts `start` once the earlier requests of this connection that touch case state are answered: at once for a client
 * that waits for each answer, as HTTP clients do. With HTTP/1.1 pipelining the requests arrive back to back and Node
 * hands each over as soon as its head is parsed, so a GET or a close without a body would overtake an event whose
 * body is still being read, and see the case without it.
 */
export function takeTurn(socket: Socket | null, start: () => void): void {
  if (socket === null) {
    start();
    return;
  }
  const owner = socket as WithTurns;
  const turns = owner[kTurns];
  if (turns === undefined) {
    owner[kTurns] = { busy: true, waiting: [] };
    start();
  } else if (!turns.busy) {
    turns.busy = true;
    start();
  } else {
    turns.waiting.push(start);
  }
}

/**
 * The answer of the request holding the turn has closed: the next one waiting starts. A connection that is gone drops
 * the requests still waiting, unhandled, as it drops their answers.
 */
export function endTurn(socket: Socket | null): void {
  if (socket === null) return;
  const turns = (socket as WithTurns)[kTurns];
  if (turns === undefined) return;
  const next = socket.destroyed === true ? undefined : turns.waiting.shift();
  if (next !== undefined) {
    next();
    return;
  }
  turns.busy = false;
  turns.waiting.length = 0;
}
