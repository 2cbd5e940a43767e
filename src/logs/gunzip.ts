import { setImmediate as nextTurn } from 'node:timers/promises';
import { crc32, createInflateRaw, type InflateRaw } from 'node:zlib';

/**
 * gzip data decompressed member by member, as `gzip -d` reads it: members one after another (`cat a.gz b.gz`) are read
 * in turn; after the last, zero bytes (padding) are ignored silently and anything else is ignored with `onTrailing`
 * told the byte where it starts ("decompression OK, trailing garbage ignored"). Node's gunzip instead takes such bytes
 * for a member's header, fails with "incorrect header check", and drops the output of the run that reached them.
 * Errors carry zlib's codes and texts (Z_DATA_ERROR, Z_BUF_ERROR for data cut short), the header and trailer being read
 * here and each member's deflate data by zlib's raw inflate.
 */
export async function* gunzipMembers(raw: AsyncIterable<Buffer>, onTrailing: (byte: number) => void): AsyncGenerator<Buffer> {
  const input = new Input(raw[Symbol.asyncIterator]());
  for (;;) {
    await readHeader(input);
    let crc = 0;
    let size = 0;
    for await (const piece of inflateMember(input)) {
      crc = crc32(piece, crc);
      size += piece.length;
      yield piece;
    }
    const trailer = await input.take(8);
    if (trailer.readUInt32LE(0) !== crc >>> 0) throw zlibError('Z_DATA_ERROR', 'incorrect data check');
    if (trailer.readUInt32LE(4) !== size % 2 ** 32) throw zlibError('Z_DATA_ERROR', 'incorrect length check');
    const end = input.offset;
    const next = await input.peek();
    if (next === undefined) return;
    // A member follows; a lone 0x1f at the end is one cut short (gzip: "unexpected end of file").
    if (next[0] === 0x1f && (next.length === 1 || next[1] === 0x8b)) continue;
    if (await input.skipZeros()) onTrailing(end);
    return;
  }
}

const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const RESERVED = 0xe0;

/** RFC 1952's member header, checked as zlib checks it. */
async function readHeader(input: Input): Promise<void> {
  const parts = [await input.take(10)];
  const [id1, id2, method, flags] = parts[0]!;
  if (id1 !== 0x1f || id2 !== 0x8b) throw zlibError('Z_DATA_ERROR', 'incorrect header check');
  if (method !== 8) throw zlibError('Z_DATA_ERROR', 'unknown compression method');
  if ((flags! & RESERVED) !== 0) throw zlibError('Z_DATA_ERROR', 'unknown header flags set');
  if ((flags! & FEXTRA) !== 0) {
    const length = await input.take(2);
    parts.push(length, await input.take(length.readUInt16LE(0)));
  }
  if ((flags! & FNAME) !== 0) parts.push(await input.takeThroughZero());
  if ((flags! & FCOMMENT) !== 0) parts.push(await input.takeThroughZero());
  if ((flags! & FHCRC) !== 0) {
    const check = (await input.take(2)).readUInt16LE(0);
    if (check !== (crc32(Buffer.concat(parts)) & 0xffff)) throw zlibError('Z_DATA_ERROR', 'header crc mismatch');
  }
}

/** Bounds what one write may inflate to before it is handed on (deflate expands at most about 1,032 times). */
const MAX_WRITE = 16 * 1024;

/** One member's deflate data, inflated; the input is left just after it (the trailer). */
async function* inflateMember(input: Input): AsyncGenerator<Buffer> {
  const inflater = createInflateRaw();
  const inflated: Buffer[] = [];
  inflater.on('data', (piece: Buffer) => inflated.push(piece));
  try {
    for (;;) {
      const chunk = await input.next(MAX_WRITE);
      if (chunk === undefined) throw zlibError('Z_BUF_ERROR', 'unexpected end of file');
      const before = inflater.bytesWritten;
      await write(inflater, chunk);
      // Pieces pushed while the readable side was paused are emitted on a later tick.
      await nextTurn();
      yield* inflated.splice(0);
      // zlib takes no input past the end of the deflate data: what it left is the trailer and whatever follows.
      const used = inflater.bytesWritten - before;
      if (used < chunk.length) {
        input.unread(chunk.subarray(used));
        return;
      }
    }
  } finally {
    inflater.destroy();
  }
}

function write(inflater: InflateRaw, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    inflater.once('error', reject);
    inflater.write(chunk, (error) => {
      inflater.off('error', reject);
      if (error) reject(error);
      else resolve();
    });
  });
}

function zlibError(code: 'Z_DATA_ERROR' | 'Z_BUF_ERROR', message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

const EMPTY = Buffer.alloc(0);

/** The compressed bytes, taken in pieces of any size, with what was taken too far handed back. */
class Input {
  private held: Buffer = EMPTY;
  /** Bytes taken so far (less those handed back). */
  offset = 0;

  constructor(private readonly chunks: AsyncIterator<Buffer>) {}

  /** The next bytes, at most `max`; undefined at the end. */
  async next(max = Infinity): Promise<Buffer | undefined> {
    while (this.held.length === 0) {
      const next = await this.chunks.next();
      if (next.done === true) return undefined;
      this.held = next.value;
    }
    const piece = this.held.subarray(0, max);
    this.held = this.held.subarray(piece.length);
    this.offset += piece.length;
    return piece;
  }

  unread(piece: Buffer): void {
    this.held = this.held.length === 0 ? piece : Buffer.concat([piece, this.held]);
    this.offset -= piece.length;
  }

  /** At least two bytes (one when the input ends there), left unread; undefined at the end. */
  async peek(): Promise<Buffer | undefined> {
    const first = await this.next();
    if (first === undefined) return undefined;
    const second = first.length >= 2 ? undefined : await this.next();
    const both = second === undefined ? first : Buffer.concat([first, second]);
    this.unread(both);
    return both;
  }

  /** Exactly `length` bytes; the input ending first is data cut short. */
  async take(length: number): Promise<Buffer> {
    const pieces: Buffer[] = [];
    for (let missing = length; missing > 0; ) {
      const piece = await this.next(missing);
      if (piece === undefined) throw zlibError('Z_BUF_ERROR', 'unexpected end of file');
      pieces.push(piece);
      missing -= piece.length;
    }
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  }

  /** A zero-terminated header field, its zero included. */
  async takeThroughZero(): Promise<Buffer> {
    const pieces: Buffer[] = [];
    for (;;) {
      const piece = await this.next();
      if (piece === undefined) throw zlibError('Z_BUF_ERROR', 'unexpected end of file');
      const zero = piece.indexOf(0);
      if (zero === -1) {
        pieces.push(piece);
        continue;
      }
      pieces.push(piece.subarray(0, zero + 1));
      this.unread(piece.subarray(zero + 1));
      return Buffer.concat(pieces);
    }
  }

  /** Reads on while the bytes are zero: whether another byte came before the end. */
  async skipZeros(): Promise<boolean> {
    for (let piece = await this.next(); piece !== undefined; piece = await this.next()) {
      if (piece.some((byte) => byte !== 0)) return true;
    }
    return false;
  }
}
