import { connect } from 'node:net';

/**
 * Writes `text` as it is on one connection and reads until the server closes it: the wire, as no HTTP client sends it.
 * A Buffer goes as its bytes (a compressed body), a string as UTF-8. `end`: the client ends its side after the text
 * (and still reads), as a client that gives up half-way through a request does.
 */
export function sendRaw(url: string, text: string | Uint8Array, { end = false } = {}): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    if (end) socket.end(text);
    else socket.write(text);
  });
}
