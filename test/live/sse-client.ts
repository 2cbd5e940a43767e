import { request, type IncomingMessage } from 'node:http';

export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}

/** Parsed `data` of a live event (every live event is a JSON object with type and id). */
export interface LiveJson {
  type: string;
  id: number;
  ts: string;
  [key: string]: unknown;
}

/**
 * A streaming SSE client over node:http: it sees the wire as a browser would (id/event/data lines, comments), can
 * send Last-Event-ID, and can stop reading to play a stalled subscriber.
 */
export class SseClient {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  /** What EventSource would send as Last-Event-ID: the last `id:` field seen, also in a block without data. */
  lastEventId: string | undefined;
  retry: number | undefined;
  ended = false;
  error: Error | undefined;
  /** The highest numeric id among the messages so far (0 before any): kept as they arrive, so waits need not scan. */
  private highestId = 0;
  private buffer = '';
  private readonly waiters = new Set<() => void>();
  private consumed = 0;

  private constructor(
    readonly response: IncomingMessage,
    readonly body: string,
  ) {}

  get status(): number {
    return this.response.statusCode ?? 0;
  }

  /** Opens `url`; resolves once the response headers are in (for a non-200 answer, with its body read). */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve(new SseClient(res, body)));
          return;
        }
        const client = new SseClient(res, '');
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => client.feed(chunk));
        res.on('end', () => client.finish());
        res.on('close', () => client.finish());
        res.on('error', (error) => {
          client.error = error;
          client.finish();
        });
        resolve(client);
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Parsed JSON of every message so far. */
  get events(): LiveJson[] {
    return this.messages.map((m) => JSON.parse(m.data) as LiveJson);
  }

  /** Resolves with the next message not yet taken by `next`, waiting up to `timeoutMs`. */
  async next(timeoutMs = 5000): Promise<LiveJson> {
    await this.until(() => this.messages.length > this.consumed || this.ended, timeoutMs, 'the next message');
    const message = this.messages[this.consumed];
    if (message === undefined) throw new Error(`stream ended after ${this.consumed} messages`);
    this.consumed++;
    return JSON.parse(message.data) as LiveJson;
  }

  /** Takes messages until one satisfies `check` and returns it with all taken before it. */
  async nextUntil(check: (event: LiveJson) => boolean, timeoutMs = 5000): Promise<LiveJson[]> {
    const taken: LiveJson[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = await this.next(Math.max(1, deadline - Date.now()));
      taken.push(event);
      if (check(event)) return taken;
    }
  }

  /**
   * Whether a message with this id, or a later one, has arrived. In O(1): a wait that scanned `messages` on every
   * chunk was quadratic, seconds of the test's own CPU for a replay of 40,000 events, past its deadline on a busy
   * machine.
   */
  reached(id: number): boolean {
    return this.highestId >= id;
  }

  /** Waits until `condition()` holds (re-checked on every chunk and at the end). */
  until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${this.messages.length} messages${this.ended ? ', stream ended' : ''}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Stops reading from the socket: the server's writes back up into the kernel buffers, then into its own. */
  pause(): void {
    this.response.pause();
    this.response.socket.pause();
  }

  close(): void {
    this.response.destroy();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let at: number;
    while ((at = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + 2);
      this.parse(block);
    }
    this.notify();
  }

  private parse(block: string): void {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry') this.retry = Number(value);
    }
    if (id !== undefined) this.lastEventId = id;
    if (data.length > 0) {
      this.messages.push({ id, event, data: data.join('\n') });
      const numeric = Number(id);
      if (id !== undefined && numeric > this.highestId) this.highestId = numeric;
    }
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
