import type { CaseStore } from './case-store.js';

/**
 * How long a checkpoint holds the event loop at a time, in milliseconds: a slice of lines, then its write off the loop.
 * Short beside a request's latency; long enough that a slice's write is not one system call per few cases.
 */
export const CHECKPOINT_SLICE_MS = 5;

/** What a checkpoint came to (the metric's label values). */
export const CHECKPOINT_RESULTS = ['written', 'unchanged', 'failed'] as const;

export interface CheckpointObserver {
  onWritten(seconds: number, bytes: number, cases: number): void;
  /** Nothing changed since the last checkpoint (or since the restore): the file already holds the open cases. */
  onUnchanged(): void;
  onFailed(error: unknown): void;
}

/** Writes the open cases, calling off when `cancelled` says so; undefined when called off. */
export type WriteCheckpoint = (cancelled: () => boolean) => Promise<{ bytes: number; cases: number } | undefined>;

/**
 * Checkpoints of the open cases every `intervalMs` while the service runs (--case-state-checkpoint-interval), so that a
 * crash, an OOM kill or a lost machine loses at most that much of the streaming state: the shutdown's save covers only
 * a shutdown. One at a time, each `intervalMs` after the last one began, and none while nothing has changed.
 */
export class CaseCheckpoints {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The store's change count the file holds: at the start, the restored cases (or none, and no file). */
  private writtenChanges: number;

  constructor(
    private readonly store: CaseStore,
    private readonly write: WriteCheckpoint,
    private readonly intervalMs: number,
    private readonly observer: CheckpointObserver,
  ) {
    this.writtenChanges = store.changes;
  }

  start(): void {
    this.schedule();
  }

  /**
   * Stops the checkpoints; one under way is called off at its next step and leaves nothing behind. The shutdown's save
   * calls this first: a checkpoint renamed into place after it would put older cases over the newer ones.
   */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * The next checkpoint `intervalMs` after the last one began (at once if it took longer), so that a crash loses at
   * most the interval and one checkpoint's own time, however long checkpoints take.
   */
  private schedule(delayMs = this.intervalMs): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const began = performance.now();
      void this.checkpoint().finally(() => this.schedule(Math.max(0, this.intervalMs - (performance.now() - began))));
    }, delayMs);
    // A checkpoint due does not keep a process alive that has nothing else to do.
    this.timer.unref();
  }

  private async checkpoint(): Promise<void> {
    const changes = this.store.changes;
    if (changes === this.writtenChanges) {
      this.observer.onUnchanged();
      return;
    }
    const started = performance.now();
    try {
      const written = await this.write(() => this.stopped);
      if (written === undefined) return;
      this.writtenChanges = changes;
      this.observer.onWritten((performance.now() - started) / 1000, written.bytes, written.cases);
    } catch (error) {
      this.observer.onFailed(error);
    }
  }
}
