/**
 * A TCP proxy in front of an LDAP server that counts the bind requests passing through it: what
 * tests use to show that Canopy did not try a bind (slapd has no counter a test can read).
 */
import { connect, createServer, type Socket } from 'node:net';
import { decodeMessage } from '../../src/protocol/codec.js';
import { MessageFramer } from '../../src/protocol/framing.js';

export interface CountingProxy {
  readonly url: string;
  /** Bind requests seen so far. */
  readonly binds: number;
  close(): Promise<void>;
}

export async function startCountingProxy(target: { readonly port: number }): Promise<CountingProxy> {
  let binds = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: target.port });
    track(client);
    track(upstream);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    const framer = new MessageFramer(1 << 20);
    client.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      for (let m = framer.next(); m; m = framer.next()) {
        const decoded = decodeMessage(m);
        if (decoded.kind === 'request' && decoded.request.op === 'bind') binds++;
      }
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('proxy has no port');
  return {
    url: `ldap://127.0.0.1:${address.port}`,
    get binds() {
      return binds;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
