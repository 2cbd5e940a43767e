import type { WriteStream } from 'node:tty';
import type { Writable } from 'node:stream';

/** A progress line redrawn in place on a terminal (traces, rate, elapsed); silent when stderr is a file or pipe. */
export class ProgressLine {
  private count = 0;
  private readonly started = performance.now();
  private lastDraw = 0;
  private readonly tty: boolean;

  constructor(
    private readonly out: Writable,
    private readonly totalBytes?: number,
    private readonly bytesRead: () => number | undefined = () => undefined,
  ) {
    this.tty = (out as Partial<WriteStream>).isTTY === true;
  }

  tick(): void {
    this.count++;
    if (!this.tty || (this.count & 1023) !== 0) return;
    const now = performance.now();
    if (now - this.lastDraw < 250) return;
    this.lastDraw = now;
    const seconds = (now - this.started) / 1000;
    const read = this.bytesRead();
    const percent = read !== undefined && this.totalBytes ? ` ${((100 * read) / this.totalBytes).toFixed(0)}%` : '';
    this.out.write(`\r${this.count} traces${percent}, ${Math.round(this.count / seconds)} traces/s, ${seconds.toFixed(1)} s `);
  }

  done(): void {
    if (this.tty && this.lastDraw > 0) this.out.write('\r\x1b[K');
  }
}
