/**
 * Stand-in upstream LDAP servers for failures slapd will not stage on demand: a server that drops a
 * write's connection unanswered, or answers every search busy. Also a counting proxy's listener.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ResultCode } from '../../src/core/result-codes.js';
import { decodeMessage, type Decoded } from '../../src/protocol/decoder.js';
import { encodeResult } from '../../src/protocol/encoder.js';
import { MessageFramer } from '../../src/protocol/framing.js';
import { Op } from '../../src/protocol/tags.js';

export interface FakeUpstreamOptions {
  /** A modify or compare is answered, or its connection dropped unanswered. */
  readonly writes?: 'drop' | 'answer';
  /** Every search is answered with this result code and no entries. */
  readonly searches?: ResultCode;
}

export interface FakeUpstream {
  readonly url: string;
  readonly modifies: number;
  readonly compares: number;
  readonly searches: number;
  close(): Promise<void>;
}

/** A server that accepts binds and answers the rest as `options` say. */
export async function startFakeUpstream(options: FakeUpstreamOptions): Promise<FakeUpstream> {
  const seen = { modifies: 0, compares: 0, searches: 0 };
  const answer = (socket: Socket, { messageId, request }: Extract<Decoded, { kind: 'request' }>): void => {
    if (request.op === 'bind') socket.write(encodeResult(messageId, Op.bindResponse, 0, '', ''));
    if (request.op === 'search') {
      seen.searches++;
      socket.write(encodeResult(messageId, Op.searchResultDone, options.searches ?? ResultCode.success, '', ''));
    }
    if (request.op === 'modify' || request.op === 'compare') {
      seen[request.op === 'modify' ? 'modifies' : 'compares']++;
      if (options.writes === 'drop') socket.destroy();
      else if (request.op === 'modify') socket.write(encodeResult(messageId, Op.modifyResponse, 0, '', ''));
      else socket.write(encodeResult(messageId, Op.compareResponse, ResultCode.compareTrue, '', ''));
    }
  };
  const served = await listenTracked((socket) => {
    const framer = new MessageFramer(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      for (let m = framer.next(); m; m = framer.next()) {
        const decoded = decodeMessage(m);
        if (decoded.kind === 'request') answer(socket, decoded);
      }
    });
  });
  return {
    url: served.url,
    get modifies() {
      return seen.modifies;
    },
    get compares() {
      return seen.compares;
    },
    get searches() {
      return seen.searches;
    },
    close: served.close,
  };
}

/** A loopback TCP server on a free port whose `close` also ends the connections it holds. */
export async function listenTracked(onConnection: (socket: Socket) => void): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `ldap://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
