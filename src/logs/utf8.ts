import { LogInputError } from './errors.js';

/**
 * Passes the chunks through unchanged, failing on the first byte that is not
 * valid UTF-8. PETRA opens every log as strict UTF-8 and crashes with a
 * traceback there; a silent U+FFFD substitution would instead change
 * attribute values and activity names without notice.
 */
export async function* validateUtf8(chunks: AsyncIterable<Buffer>, file: string): AsyncGenerator<Buffer> {
  const state: DecoderState = { needed: 0, seen: 0, lower: 0x80, upper: 0xbf, sequenceStart: 0 };
  let offset = 0;
  let line = 1;
  let head: Buffer | undefined;
  for await (const chunk of chunks) {
    head ??= chunk;
    const bad = scan(chunk, offset, state);
    if (bad !== -1) throw invalidUtf8(file, bad, line + countNewlines(chunk, bad - offset), head);
    line += countNewlines(chunk, chunk.length);
    offset += chunk.length;
    yield chunk;
  }
  if (state.needed > 0) {
    throw new LogInputError(file, 'invalid UTF-8: the file ends in the middle of a multi-byte character', {
      byte: state.sequenceStart,
    });
  }
}

/** UTF-8 text of the chunks; a leading byte-order mark is dropped. Input must already be valid. */
export async function* decodeUtf8(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of chunks) {
    const text = decoder.decode(chunk, { stream: true });
    if (text.length > 0) yield text;
  }
  const rest = decoder.decode();
  if (rest.length > 0) yield rest;
}

interface DecoderState {
  needed: number;
  seen: number;
  lower: number;
  upper: number;
  sequenceStart: number;
}

/** The WHATWG UTF-8 decoder's validity rules; returns the absolute offset of the first bad sequence or -1. */
function scan(chunk: Buffer, offset: number, state: DecoderState): number {
  for (let i = 0; i < chunk.length; i++) {
    const byte = chunk[i] as number;
    if (state.needed === 0) {
      if (byte <= 0x7f) continue;
      state.sequenceStart = offset + i;
      if (byte >= 0xc2 && byte <= 0xdf) {
        state.needed = 1;
      } else if (byte >= 0xe0 && byte <= 0xef) {
        if (byte === 0xe0) state.lower = 0xa0;
        if (byte === 0xed) state.upper = 0x9f;
        state.needed = 2;
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        if (byte === 0xf0) state.lower = 0x90;
        if (byte === 0xf4) state.upper = 0x8f;
        state.needed = 3;
      } else {
        return offset + i;
      }
      state.seen = 0;
      continue;
    }
    if (byte < state.lower || byte > state.upper) return state.sequenceStart;
    state.lower = 0x80;
    state.upper = 0xbf;
    state.seen += 1;
    if (state.seen === state.needed) state.needed = 0;
  }
  return -1;
}

function countNewlines(chunk: Buffer, end: number): number {
  let count = 0;
  let at = chunk.indexOf(0x0a);
  while (at !== -1 && at < end) {
    count += 1;
    at = chunk.indexOf(0x0a, at + 1);
  }
  return count;
}

function invalidUtf8(file: string, byte: number, line: number, head: Buffer): LogInputError {
  let hint = '';
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    hint = ' (the file looks UTF-16 encoded; convert it to UTF-8)';
  } else if (head[0] === 0x1f && head[1] === 0x8b) {
    hint = ' (the file looks gzip-compressed; give it a name ending in .gz)';
  }
  return new LogInputError(file, `invalid UTF-8; logs must be UTF-8 encoded${hint}`, { line, byte });
}
