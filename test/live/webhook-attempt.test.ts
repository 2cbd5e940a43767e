import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookAttempt } from '../../src/live/webhook-attempt.js';

/**
 * The signals Node keeps on a source signal for every AbortSignal.any() that follows it (an internal symbol: there is
 * no public way to see them, and they are what leaked). 0 when there are none.
 */
function dependants(signal: AbortSignal): number {
  const symbol = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  const set = symbol === undefined ? undefined : (signal as unknown as Record<symbol, Set<unknown> | undefined>)[symbol];
  return set?.size ?? 0;
}

let servers: Server[] = [];

afterEach(async () => {
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  servers = [];
});

/** A receiver on 127.0.0.1 that answers 204, or (hang) never answers. */
async function receiver(hang = false): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    if (!hang) req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
}

async function deliver(url: string, attempt: WebhookAttempt): Promise<void> {
  try {
    const response = await fetch(url, { method: 'POST', body: '{}', signal: attempt.signal });
    await response.body?.cancel();
  } finally {
    attempt.settle();
  }
}

describe('WebhookAttempt', () => {
  it('leaves nothing on the long-lived shutdown signal, however many attempts were made', async () => {
    // The check below must be able to see what AbortSignal.any() registers, or it would pass for nothing.
    const probe = new AbortController();
    AbortSignal.any([probe.signal]).addEventListener('abort', () => {});
    expect(dependants(probe.signal)).toBeGreaterThan(0);

    const url = await receiver();
    const shutdown = new AbortController();
    for (let i = 0; i < 300; i++) await deliver(url, new WebhookAttempt(shutdown.signal, 30_000));
    expect(dependants(shutdown.signal)).toBe(0);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('is aborted by the shutdown signal, as an abort and not a timeout', async () => {
    const url = await receiver(true);
    const shutdown = new AbortController();
    const attempt = new WebhookAttempt(shutdown.signal, 30_000);
    const delivery = deliver(url, attempt);
    shutdown.abort();
    await expect(delivery).rejects.toMatchObject({ name: 'AbortError' });
    expect(attempt.timedOut).toBe(false);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('is aborted by its timeout when the receiver never answers, and says so', async () => {
    const url = await receiver(true);
    const shutdown = new AbortController();
    const attempt = new WebhookAttempt(shutdown.signal, 50);
    await expect(deliver(url, attempt)).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(attempt.timedOut).toBe(true);
    expect(shutdown.signal.aborted).toBe(false);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('starts aborted when the shutdown came first', () => {
    const shutdown = new AbortController();
    shutdown.abort();
    const attempt = new WebhookAttempt(shutdown.signal, 30_000);
    expect(attempt.signal.aborted).toBe(true);
    expect(attempt.timedOut).toBe(false);
  });
});
