import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressLine } from '../../src/cli/progress.js';

/** A sink that calls itself a terminal, and the lines drawn on it (each redraw starts with \r). */
function terminal(isTTY = true): { out: Writable; lines: () => string[] } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  Object.assign(out, { isTTY });
  return { out, lines: () => text.split('\r').map((line) => line.replaceAll('\x1b[K', '')).filter(Boolean) };
}

describe('progress line', () => {
  it('shows the bytes read while nothing is scored, then traces of the total once the reader tells it', () => {
    let now = 1000;
    const { out, lines } = terminal();
    const progress = new ProgressLine(out, 4000, () => now);
    now += 500;
    progress.read(1000);
    now += 100;
    progress.read(2000); // within the redraw interval: not drawn
    now += 400;
    progress.read(4000);
    progress.expect(2048);
    now += 1000;
    progress.tick(); // the rate counts from here, not from the start of the reading
    now += 1000;
    for (let i = 1; i < 1024; i++) progress.tick();
    now += 1000;
    for (let i = 0; i < 1024; i++) progress.tick();
    progress.done();
    expect(lines()).toEqual([
      'reading 25%, 0.5 s',
      'reading 100%, 1.0 s',
      '1024 traces of 2048 50%, 1024 traces/s, 3.0 s',
      '2048 traces of 2048 100%, 1024 traces/s, 4.0 s',
    ]);
  });

  it('shows the bytes read beside the traces when the reader hands them out as it reads', () => {
    let now = 0;
    const { out, lines } = terminal();
    const progress = new ProgressLine(out, 1000, () => now);
    progress.read(300);
    for (let i = 0; i < 1023; i++) progress.tick();
    now = 2000;
    progress.read(600); // traces scored: drawn at the next 1024th trace, not on reads
    progress.tick();
    expect(lines()).toEqual(['reading 30%, 0.0 s', '1024 traces 60%, 512 traces/s, 2.0 s']);
  });

  it('draws nothing when the output is not a terminal', () => {
    const { out, lines } = terminal(false);
    const progress = new ProgressLine(out, 1000, () => 5000);
    progress.read(1000);
    for (let i = 0; i < 4096; i++) progress.tick();
    progress.done();
    expect(lines()).toEqual([]);
  });
});
