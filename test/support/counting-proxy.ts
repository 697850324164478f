/**
 * A TCP proxy in front of an LDAP server that counts the bind and search requests passing through
 * it: what tests use to show what Canopy asked of a forest (slapd has no counter a test can read).
 */
import { connect } from 'node:net';
import { decodeMessage } from '../../src/protocol/decoder.js';
import { MessageFramer } from '../../src/protocol/framing.js';
import { listenTracked } from './fake-upstream.js';

export interface CountingProxy {
  readonly url: string;
  /** Bind requests seen so far. */
  readonly binds: number;
  /** Search requests seen so far. */
  readonly searches: number;
  /** The time limit (seconds) of each search request seen, in order. */
  readonly searchTimeLimits: readonly number[];
  close(): Promise<void>;
}

export async function startCountingProxy(target: { readonly port: number }): Promise<CountingProxy> {
  let binds = 0;
  let searches = 0;
  const searchTimeLimits: number[] = [];
  const served = await listenTracked((client) => {
    const upstream = connect({ host: '127.0.0.1', port: target.port });
    upstream.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    const framer = new MessageFramer(1 << 20);
    client.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      for (let m = framer.next(); m; m = framer.next()) {
        const decoded = decodeMessage(m);
        if (decoded.kind !== 'request') continue;
        if (decoded.request.op === 'bind') binds++;
        else if (decoded.request.op === 'search') {
          searches++;
          searchTimeLimits.push(decoded.request.search.timeLimit);
        }
      }
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return {
    url: served.url,
    get binds() {
      return binds;
    },
    get searches() {
      return searches;
    },
    searchTimeLimits,
    close: served.close,
  };
}
