import { ServerResponse, IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { OpenResponses } from '../../src/http/open-responses.js';

const response = () => new ServerResponse(new IncomingMessage(new Socket()));

describe('OpenResponses', () => {
  it('keeps the responses in flight, reuses freed slots, and ignores a late second release', () => {
    const open = new OpenResponses();
    const [a, b, c] = [response(), response(), response()];
    const slotA = open.add(a, `req-a`);
    const slotB = open.add(b, `req-b`);
    expect(open.size).toBe(2);
    open.release(slotA, a);
    expect([...open]).toEqual([b]);
    const slotC = open.add(c, `req-c`);
    expect(slotC).toBe(slotA);
    open.release(slotA, a);
    expect(open.size).toBe(2);
    expect(new Set(open)).toEqual(new Set([b, c]));
    open.release(slotB, b);
    open.release(slotC, c);
    expect(open.size).toBe(0);
    expect([...open]).toEqual([]);
  });

  it('resolves whenEmpty at once when nothing is in flight, else when the last response is released', async () => {
    const open = new OpenResponses();
    await open.whenEmpty();
    const [a, b] = [response(), response()];
    const slotA = open.add(a, `req-a`);
    const slotB = open.add(b, `req-b`);
    let settled = false;
    const idle = open.whenEmpty().then(() => (settled = true));
    open.release(slotA, a);
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    open.release(slotB, b);
    await idle;
    expect(settled).toBe(true);
  });

  it('lets go of a response whose connection is gone (a queued pipelined response never closes)', async () => {
    const open = new OpenResponses();
    try {
      const [live, gone] = [response(), response()];
      const slot = open.add(live, `req-live`);
      open.add(gone, `req-gone`);
      gone.req.socket!.destroy();
      let settled = false;
      const idle = open.whenEmpty().then(() => (settled = true));
      await new Promise((resolve) => setImmediate(resolve));
      expect([settled, [...open]]).toEqual([false, [live]]);
      open.release(slot, live);
      await idle;
    } finally {
      open.stop();
    }
  });
});
