import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { endTurn, takeTurn } from '../../src/http/connection-turns.js';

describe('turns of one connection', () => {
  it('starts the first request at once and each next one when the one before it ends, in order', () => {
    const socket = new Socket();
    const started: string[] = [];
    for (const name of ['a', 'b', 'c']) takeTurn(socket, () => started.push(name));
    expect(started).toEqual(['a']);
    endTurn(socket);
    expect(started).toEqual(['a', 'b']);
    endTurn(socket);
    endTurn(socket);
    // Free again: the next request starts at once.
    takeTurn(socket, () => started.push('d'));
    expect(started).toEqual(['a', 'b', 'c', 'd']);
  });

  it('drops the requests still waiting when the connection is gone, and is free for none after', () => {
    const socket = new Socket();
    const started: string[] = [];
    for (const name of ['a', 'b']) takeTurn(socket, () => started.push(name));
    socket.destroy();
    endTurn(socket);
    expect(started).toEqual(['a']);
  });

  it('keeps connections apart', () => {
    const [one, two] = [new Socket(), new Socket()];
    const started: string[] = [];
    takeTurn(one, () => started.push('one a'));
    takeTurn(two, () => started.push('two a'));
    takeTurn(one, () => started.push('one b'));
    expect(started).toEqual(['one a', 'two a']);
  });
});
