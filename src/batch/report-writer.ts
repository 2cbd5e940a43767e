import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { formatEntry } from './format-entry.js';
import type { ReportEntry } from './score-log.js';

export type OutputFormat = 'json' | 'ndjson';

/**
 * Streams the report as it is scored: `json` is petra-score's document (`json.dumps(results, indent=2,
 * sort_keys=True)` plus a newline) written entry by entry; `ndjson` is one compact entry per line.
 */
// Entries are gathered into chunks of about this many characters: one stream write per entry costs a Buffer each.
const CHUNK = 64 * 1024;

export class ReportWriter {
  private count = 0;
  private draining: Promise<void> | undefined;
  private chunk = '';

  constructor(
    private readonly out: Writable,
    private readonly format: OutputFormat,
  ) {}

  write(entry: ReportEntry): void | Promise<void> {
    let text: string;
    if (this.format === 'ndjson') text = `${formatEntry(entry, false)}\n`;
    else text = `${this.count === 0 ? '[' : ','}\n  ${formatEntry(entry, true)}`;
    this.count++;
    this.chunk += text;
    if (this.chunk.length < CHUNK) return this.draining;
    return this.flushChunk();
  }

  private flushChunk(): void | Promise<void> {
    const text = this.chunk;
    this.chunk = '';
    if (text === '' || this.out.write(text)) return this.draining;
    // One waiter for the whole backlog, however many writes hit the full buffer before it drains.
    this.draining ??= once(this.out, 'drain').then(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  /** Closes the document; resolves once everything is flushed (and the file closed, for a file). */
  async end(): Promise<void> {
    await this.flushChunk();
    if (this.format === 'json') this.out.write(this.count === 0 ? '[]\n' : '\n]\n');
    if (this.out === process.stdout) {
      await new Promise<void>((resolve, reject) => this.out.write('', (error) => (error ? reject(error) : resolve())));
      return;
    }
    this.out.end();
    await once(this.out, 'finish');
  }
}
