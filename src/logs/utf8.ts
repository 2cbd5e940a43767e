import { isUtf8 } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
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
  let afterCr = false;
  let head: Buffer | undefined;
  for await (const chunk of chunks) {
    head ??= chunk;
    const bad = firstInvalid(chunk, offset, state);
    if (bad !== -1) throw invalidUtf8(file, bad, line + countLineBreaks(chunk, bad - offset, afterCr), head);
    line += countLineBreaks(chunk, chunk.length, afterCr);
    afterCr = chunk[chunk.length - 1] === CR;
    offset += chunk.length;
    yield chunk;
  }
  if (state.needed > 0) {
    throw new LogInputError(file, 'invalid UTF-8: the file ends in the middle of a multi-byte character', {
      byte: state.sequenceStart,
    });
  }
}

/**
 * UTF-8 text of the chunks; a leading byte-order mark is dropped. Input must
 * already be valid. StringDecoder rather than TextDecoder: on Node 20 it
 * decodes a large log about three times faster.
 */
export async function* decodeUtf8(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let first = true;
  for await (const chunk of chunks) {
    let text = decoder.write(chunk);
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (text.length > 0) yield text;
  }
  const rest = decoder.end();
  if (rest.length > 0) yield first && rest.charCodeAt(0) === 0xfeff ? rest.slice(1) : rest;
}

interface DecoderState {
  needed: number;
  seen: number;
  lower: number;
  upper: number;
  sequenceStart: number;
}

/**
 * What scan over the whole chunk returns, but the complete sequences between
 * the chunk's edges are checked by node's native isUtf8 (the same rules),
 * which is some twenty times faster than the loop here. scan only finishes a
 * sequence the previous chunk cut off, takes the start of one this chunk cuts
 * off, and, when isUtf8 says no, finds where.
 */
function firstInvalid(chunk: Buffer, offset: number, state: DecoderState): number {
  const owed = state.needed > 0 ? state.needed - state.seen : 0;
  const cut = cutOffSequence(chunk);
  if (owed >= cut || !isUtf8(chunk.subarray(owed, cut))) return scan(chunk, offset, state, 0, chunk.length);
  const bad = scan(chunk, offset, state, 0, owed);
  return bad !== -1 ? bad : scan(chunk, offset, state, cut, chunk.length);
}

/** Where a multi-byte sequence starts that runs past the end of the chunk; the chunk's length if none does. */
function cutOffSequence(chunk: Buffer): number {
  for (let at = chunk.length - 1; at >= 0 && at >= chunk.length - 3; at--) {
    const byte = chunk[at] as number;
    if (byte < 0x80) break;
    if (byte < 0xc0) continue;
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return chunk.length - at < length ? at : chunk.length;
  }
  return chunk.length;
}

/** The WHATWG UTF-8 decoder's validity rules over chunk[from, to); returns the absolute offset of the first bad sequence or -1. */
function scan(chunk: Buffer, offset: number, state: DecoderState, from: number, to: number): number {
  for (let i = from; i < to; i++) {
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

const LF = 0x0a;
const CR = 0x0d;

/**
 * Line breaks in chunk[0, end): \n, \r\n and a lone \r (classic Mac exports: Excel's "CSV (Macintosh)", whose Mac
 * Roman bytes are what fails here), counted as the CSV reader's messages count them. `afterCr`: the chunk before
 * ended in \r, so a \n first in this one completes that break.
 */
function countLineBreaks(chunk: Buffer, end: number, afterCr: boolean): number {
  let count = 0;
  for (let at = chunk.indexOf(CR); at !== -1 && at < end; at = chunk.indexOf(CR, at + 1)) count += 1;
  for (let at = chunk.indexOf(LF); at !== -1 && at < end; at = chunk.indexOf(LF, at + 1)) {
    if (at > 0 ? chunk[at - 1] !== CR : !afterCr) count += 1;
  }
  return count;
}

/** A ZIP archive's local file header: `PK\x03\x04`. */
const ZIP_SIGNATURE = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

function invalidUtf8(file: string, byte: number, line: number, head: Buffer): LogInputError {
  let hint = '';
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    hint = ' (the file looks UTF-16 encoded; convert it to UTF-8)';
  } else if (head[0] === 0x1f && head[1] === 0x8b) {
    hint = ' (the file looks gzip-compressed; give it a name ending in .gz)';
  } else if (head.subarray(0, 4).equals(ZIP_SIGNATURE)) {
    // What BPM and ERP tools often hand out, and what an Excel workbook is: not a text whose encoding could be changed.
    hint = ' (the file is a ZIP archive, as an Excel .xlsx workbook is too: extract the log from it, or save the sheet as CSV)';
  }
  return new LogInputError(file, `invalid UTF-8; logs must be UTF-8 encoded${hint}`, { line, byte });
}
