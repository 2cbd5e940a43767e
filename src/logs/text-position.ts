/**
 * 1-based line (a break being \n, \r\n or \r) and column (in characters, a surrogate pair counting once) of
 * offsets into a text. Offsets usually arrive in increasing order, so the scan
 * resumes where the previous one stopped; a file with many bad traces, even
 * minified onto one line, is then still scanned once.
 */
export class TextPositions {
  private offset = 0;
  private line = 1;
  private column = 1;

  constructor(private readonly text: string) {}

  at(offset: number): { line: number; column: number } {
    if (offset < this.offset) {
      this.offset = 0;
      this.line = 1;
      this.column = 1;
    }
    const { text } = this;
    for (let i = this.offset; i < offset; i++) {
      const code = text.charCodeAt(i);
      if (code === 0x0a || code === 0x0d) {
        // \r\n is one break, counted at its \r; a lone \r (a classic Mac file) is one too, as the other readers count.
        if (!(code === 0x0a && i > 0 && text.charCodeAt(i - 1) === 0x0d)) this.line += 1;
        this.column = 1;
      } else if (!(code >= 0xdc00 && code <= 0xdfff && i > 0 && isHighSurrogate(text.charCodeAt(i - 1)))) {
        this.column += 1;
      }
    }
    this.offset = offset;
    return { line: this.line, column: this.column };
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
