import type { ServerResponse } from 'node:http';

/** Why an upload is cut: no byte for `afterMs` (stalled), or the body still arriving `totalMs` after it began (slow). */
export type UploadCut = 'stalled' | 'slow';

/**
 * Requests whose body stops arriving, or trickles: after `afterMs` without a byte, or `totalMs` after the sweep first
 * saw the body arriving, `onStalled` answers and closes them. 0 turns either limit off.
 */
export interface StallWatch {
  afterMs: number;
  totalMs: number;
  onStalled: (response: ServerResponse, requestId: string, cut: UploadCut) => void;
}

/** What the sweep last saw of a request whose body is still arriving. */
interface Upload {
  bytesRead: number;
  /** When the sweep first saw the body arriving (within a sweep of the request's start). */
  seen: number;
  since: number;
  sweep: number;
}

/** How often the responses in flight are scanned for ones whose connection is gone. */
const ABANDONED_SWEEP_MS = 1000;

/**
 * The responses of the requests in flight, in reusable slots of one array. Not a Set: measured under load (scored
 * streaming events at 128 connections), a Set of in-flight responses made V8 promote about 1.9 MB of request objects
 * per young-generation collection into the old generation, where they died (scavenges of 6.4 ms instead of 1.8 ms,
 * 15–20% of throughput); with the same responses kept in array slots almost nothing was promoted.
 */
export class OpenResponses implements Iterable<ServerResponse> {
  private readonly slots: (ServerResponse | undefined)[] = [];
  /** Each slot's request id, for the answer the sweep gives a stalled upload. */
  private readonly ids: (string | undefined)[] = [];
  private readonly free: number[] = [];
  private count = 0;
  private waiters: (() => void)[] = [];
  /**
   * Lets go of responses whose connection is gone. A response queued behind another on a pipelined connection (HTTP/1.1)
   * never emits 'close' when its client goes away: it would stay here, and hold a shutdown until its timeout. A scan
   * of the requests in flight each second, off the request path.
   */
  private readonly sweeper = setInterval(() => this.sweep(), ABANDONED_SWEEP_MS).unref();
  /** Requests with a body still arriving, as of the last sweep: only those, so that a request costs nothing here. */
  private readonly uploads = new Map<ServerResponse, Upload>();
  private sweeps = 0;

  constructor(private readonly stall?: StallWatch) {}

  get size(): number {
    return this.count;
  }

  /** Keeps `response` (of the request `requestId`) until its slot is released; returns the slot. */
  add(response: ServerResponse, requestId: string): number {
    const slot = this.free.length > 0 ? this.free.pop()! : this.slots.length;
    this.slots[slot] = response;
    this.ids[slot] = requestId;
    this.count++;
    return slot;
  }

  /** Frees the slot `add` gave `response` (a second release of the same response, once its slot is reused, is a no-op). */
  release(slot: number, response: ServerResponse): void {
    if (this.slots[slot] !== response) return;
    this.slots[slot] = undefined;
    this.ids[slot] = undefined;
    this.free.push(slot);
    if (--this.count === 0 && this.waiters.length > 0) this.wake();
  }

  /** The first `limit` requests in flight, as a log line names them (a shutdown that timed out says what held it). */
  describe(limit: number): { reqId: string; method: string | undefined; url: string | undefined }[] {
    const found: { reqId: string; method: string | undefined; url: string | undefined }[] = [];
    for (let slot = 0; slot < this.slots.length && found.length < limit; slot++) {
      const response = this.slots[slot];
      if (response !== undefined) found.push({ reqId: this.ids[slot]!, method: response.req.method, url: response.req.url });
    }
    return found;
  }

  /** Resolves once no response is in flight (at once when none is, or when only abandoned ones are). */
  whenEmpty(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.releaseAbandoned();
      if (this.count === 0) this.wake();
    });
  }

  /** Stops the scan (the server is closed). */
  stop(): void {
    clearInterval(this.sweeper);
  }

  private releaseAbandoned(): void {
    this.slots.forEach((response, slot) => {
      if (response?.req.socket?.destroyed === true) this.release(slot, response);
    });
  }

  /**
   * Each second: responses whose connection is gone are let go, and a request whose body has not grown by a byte for
   * the stall limit, or is still arriving at the total limit, is handed to `onStalled`. The slowest honest upload still
   * moves within a minute; one that stops is a client gone silent, and one that sends a byte now and then is holding the
   * connection on purpose: either would otherwise hold its connection, and a shutdown's drain, for ever.
   */
  private sweep(): void {
    this.releaseAbandoned();
    const stall = this.stall;
    if (stall === undefined) return;
    const sweep = ++this.sweeps;
    const now = performance.now();
    for (let slot = 0; slot < this.slots.length; slot++) {
      const response = this.slots[slot];
      // complete: the parser has the whole body. headersSent: answered already (a 413 while the body still came).
      if (response === undefined || response.req.complete || response.headersSent) continue;
      const bytesRead = response.req.socket.bytesRead;
      const upload = this.uploads.get(response);
      const cut =
        upload === undefined ? undefined
        : stall.totalMs > 0 && now - upload.seen >= stall.totalMs ? 'slow'
        : stall.afterMs > 0 && upload.bytesRead === bytesRead && now - upload.since >= stall.afterMs ? 'stalled'
        : undefined;
      if (cut !== undefined) {
        this.uploads.delete(response);
        stall.onStalled(response, this.ids[slot]!, cut);
      } else if (upload === undefined) {
        this.uploads.set(response, { bytesRead, seen: now, since: now, sweep });
      } else {
        if (upload.bytesRead !== bytesRead) {
          upload.bytesRead = bytesRead;
          upload.since = now;
        }
        upload.sweep = sweep;
      }
    }
    for (const [response, upload] of this.uploads) if (upload.sweep !== sweep) this.uploads.delete(response);
  }

  private wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    waiting.forEach((resolve) => resolve());
  }

  *[Symbol.iterator](): Iterator<ServerResponse> {
    for (const response of this.slots) if (response !== undefined) yield response;
  }
}
