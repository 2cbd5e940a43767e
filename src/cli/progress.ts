import type { WriteStream } from 'node:tty';
import type { Writable } from 'node:stream';

/** Redraws at most this often: a terminal repainted on every chunk or trace costs more than the scoring. */
const REDRAW_MS = 250;

/**
 * A progress line redrawn in place on a terminal; silent when stderr is a file or pipe. While nothing has been scored
 * it shows how much of the file has been read: a reader that holds every case until the end of the file (unsorted
 * CSV) reads all of it before the first trace. Then it shows traces scored, their rate since the first, the time since
 * the start, and a percentage: of the traces, once the reader has said how many the log holds, else of the file's bytes.
 */
export class ProgressLine {
  private traces = 0;
  /** When the first trace was scored: the rate counts from there, not from a read of the whole file before it. */
  private firstTraceAt = 0;
  private totalTraces: number | undefined;
  private bytesRead = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private drawn = false;
  private readonly tty: boolean;
  private readonly started: number;

  constructor(
    private readonly out: Writable,
    /** The log file's size in bytes, when known. */
    private readonly totalBytes?: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tty = (out as Partial<WriteStream>).isTTY === true;
    this.started = now();
  }

  /** Bytes of the file read so far (compressed bytes for a .gz file, to compare with its size). */
  read(bytes: number): void {
    this.bytesRead = bytes;
    if (this.traces === 0) this.draw();
  }

  /** How many traces the log holds, when the reader knows before handing them out. */
  expect(traces: number): void {
    this.totalTraces = traces;
  }

  /** One trace scored. */
  tick(): void {
    if (this.traces === 0) this.firstTraceAt = this.now();
    this.traces++;
    if ((this.traces & 1023) === 0) this.draw();
  }

  done(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
  }

  private draw(): void {
    if (!this.tty) return;
    const now = this.now();
    if (now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.drawn = true;
    const seconds = (now - this.started) / 1000;
    const elapsed = `${seconds.toFixed(1)} s`;
    const ofBytes = this.totalBytes ? ` ${percent(this.bytesRead, this.totalBytes)}` : '';
    // Clears to the end of the line: a shorter line must not leave the tail of a longer one.
    if (this.traces === 0) {
      this.out.write(`\rreading${ofBytes}, ${elapsed}\x1b[K`);
      return;
    }
    const done = this.totalTraces === undefined ? ofBytes : ` of ${this.totalTraces} ${percent(this.traces, this.totalTraces)}`;
    const rate = Math.round(this.traces / Math.max((now - this.firstTraceAt) / 1000, 0.001));
    this.out.write(`\r${this.traces} traces${done}, ${rate} traces/s, ${elapsed}\x1b[K`);
  }
}

function percent(part: number, whole: number): string {
  return `${Math.min(100, Math.floor((100 * part) / whole))}%`;
}
