import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { addressMatcher, parseCidr } from '../../src/core/cidr.js';
import { MAX_PROXY_HEADER_BYTES, parseProxyHeader, ProxyHeaderError, readProxyHeader } from '../../src/frontend/proxy-protocol.js';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A version 2 header: command (0 LOCAL, 1 PROXY), family byte, address block. */
function v2(command: number, family: number, addresses: Buffer): Buffer {
  const fixed = Buffer.from([0x20 | command, family, 0, 0]);
  fixed.writeUInt16BE(addresses.length, 2);
  return Buffer.concat([SIGNATURE, fixed, addresses]);
}

function ipv4Block(source: number[], destination: number[], sourcePort: number, destinationPort: number): Buffer {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sourcePort, 0);
  ports.writeUInt16BE(destinationPort, 2);
  return Buffer.concat([Buffer.from(source), Buffer.from(destination), ports]);
}

function ipv6Block(source: string, destination: string, sourcePort: number, destinationPort: number): Buffer {
  const bytes = (a: string) => Buffer.from(a.replaceAll(':', ''), 'hex');
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sourcePort, 0);
  ports.writeUInt16BE(destinationPort, 2);
  return Buffer.concat([bytes(source), bytes(destination), ports]);
}

function parseError(data: Buffer | string): string {
  try {
    parseProxyHeader(Buffer.from(data));
  } catch (err) {
    expect(err).toBeInstanceOf(ProxyHeaderError);
    return (err as Error).message;
  }
  throw new Error('accepted as a header (or as its start)');
}

describe('PROXY protocol header', () => {
  it('reads a version 1 TCP4 line, and says where the bytes after it start', () => {
    const line = 'PROXY TCP4 192.0.2.10 198.51.100.1 56324 389\r\n';
    const header = parseProxyHeader(Buffer.from(`${line}0\x0c`, 'latin1'));
    expect(header).toEqual({ length: line.length, client: { address: '192.0.2.10', port: 56324 } });
  });

  it('reads a version 1 TCP6 line, writing the address as Node writes a socket address', () => {
    const header = parseProxyHeader(Buffer.from('PROXY TCP6 2001:DB8:0:0:0:0:0:7 2001:db8::1 65535 636\r\n'));
    expect(header?.client).toEqual({ address: '2001:db8::7', port: 65535 });
  });

  it('takes version 1 UNKNOWN as the connection’s own address', () => {
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'))).toEqual({ length: 35 });
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({ length: 15 });
  });

  it('reads a version 2 PROXY header over TCP/IPv4, skipping its TLVs', () => {
    const tlv = Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63]); // PP2_TYPE_NOOP
    const header = parseProxyHeader(Buffer.concat([v2(1, 0x11, Buffer.concat([ipv4Block([203, 0, 113, 7], [10, 0, 0, 1], 40000, 389), tlv])), Buffer.from([0x30])]));
    expect(header).toEqual({ length: 16 + 12 + 6, client: { address: '203.0.113.7', port: 40000 } });
  });

  it('reads a version 2 PROXY header over TCP/IPv6', () => {
    const block = ipv6Block('2001:0db8:0000:0000:0000:0000:0000:00aa', '2001:0db8:0000:0000:0000:0000:0000:0001', 1234, 636);
    expect(parseProxyHeader(v2(1, 0x21, block))).toEqual({ length: 16 + 36, client: { address: '2001:db8::aa', port: 1234 } });
  });

  it('takes a version 2 LOCAL header (a balancer’s health check) as the connection’s own address', () => {
    expect(parseProxyHeader(v2(0, 0x00, Buffer.alloc(0)))).toEqual({ length: 16 });
    expect(parseProxyHeader(v2(0, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)))).toEqual({ length: 28 });
  });

  it('asks for more bytes while a header is incomplete, at any split', () => {
    const headers = [
      Buffer.from('PROXY TCP4 192.0.2.10 198.51.100.1 56324 389\r\n'),
      v2(1, 0x11, ipv4Block([203, 0, 113, 7], [10, 0, 0, 1], 40000, 389)),
      v2(1, 0x21, ipv6Block('2001:0db8:0000:0000:0000:0000:0000:00aa', '2001:0db8:0000:0000:0000:0000:0000:0001', 1234, 636)),
    ];
    for (const header of headers) {
      for (let cut = 0; cut < header.length; cut++) expect(parseProxyHeader(header.subarray(0, cut))).toBeUndefined();
      expect(parseProxyHeader(header)?.length).toBe(header.length);
    }
  });

  it.each([
    ['LDAP bytes instead of a header', Buffer.from([0x30, 0x0c, 0x02, 0x01, 0x01]), 'does not start with a PROXY protocol header'],
    ['a TLS ClientHello', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), 'does not start with a PROXY protocol header'],
    ['v1 with an unknown protocol', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n', 'malformed PROXY v1 header'],
    ['v1 with an IPv6 address for TCP4', 'PROXY TCP4 ::1 5.6.7.8 1 2\r\n', 'malformed PROXY v1 header'],
    ['v1 with a port out of range', 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', 'malformed PROXY v1 header'],
    ['v1 with a leading zero', 'PROXY TCP4 1.2.3.4 5.6.7.8 0389 2\r\n', 'malformed PROXY v1 header'],
    ['v1 with a field missing', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', 'malformed PROXY v1 header'],
    ['v1 with two spaces', 'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n', 'malformed PROXY v1 header'],
    ['v1 ended by LF alone', `PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n${'x'.repeat(100)}`, 'longer than 107 bytes'],
    ['v1 longer than 107 bytes', `PROXY UNKNOWN ${'x'.repeat(100)}\r\n`, 'longer than 107 bytes'],
    ['v2 version 1', Buffer.concat([SIGNATURE, Buffer.from([0x11, 0x11, 0, 0])]), 'PROXY v2 header with version 1'],
    ['v2 command 2', Buffer.concat([SIGNATURE, Buffer.from([0x22, 0x11, 0, 0])]), 'unknown command 2'],
    ['v2 family 0x41', Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x41, 0, 0])]), 'unknown address family 0x41'],
    ['v2 TCP4 with a short address block', v2(1, 0x11, Buffer.alloc(8)), 'too short for IPv4'],
    ['v2 TCP6 with a short address block', v2(1, 0x21, Buffer.alloc(12)), 'too short for IPv6'],
  ])('refuses %s', (_name, data, message) => {
    expect(parseError(data)).toContain(message);
  });

  it('refuses an oversize version 2 header from its length field, before buffering it', () => {
    const fixed = Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
    expect(parseError(fixed)).toContain(`more than ${MAX_PROXY_HEADER_BYTES}`);
    // The largest allowed is still read.
    const largest = v2(1, 0x11, Buffer.concat([ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 9, 10), Buffer.alloc(MAX_PROXY_HEADER_BYTES - 28)]));
    expect(parseProxyHeader(largest)?.client?.address).toBe('1.2.3.4');
  });
});

/** A connected pair of sockets over loopback: what the server accepted, and the client's end. */
async function socketPair(): Promise<{ server: Socket; client: Socket; close: () => void }> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const accepted = once(listener, 'connection') as Promise<[Socket]>;
  const client = connect((listener.address() as AddressInfo).port, '127.0.0.1');
  const [server] = await accepted;
  return { server, client, close: () => (client.destroy(), server.destroy(), listener.close()) };
}

describe('reading a PROXY header off a socket', () => {
  it('reads a header split across TCP chunks and leaves the bytes after it for the next reader', async () => {
    const { server, client, close } = await socketPair();
    try {
      const header = readProxyHeader(server, 5000);
      const bytes = Buffer.concat([v2(1, 0x11, ipv4Block([198, 51, 100, 9], [10, 0, 0, 1], 5555, 389)), Buffer.from('after')]);
      client.setNoDelay(true);
      for (const piece of [bytes.subarray(0, 5), bytes.subarray(5, 14), bytes.subarray(14, 20), bytes.subarray(20)]) {
        client.write(piece);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await header).toEqual({ address: '198.51.100.9', port: 5555 });
      server.resume();
      const [rest] = (await once(server, 'data')) as [Buffer];
      expect(rest.toString()).toBe('after');
    } finally {
      close();
    }
  });

  it('gives up on a header that does not arrive in time', async () => {
    const { server, client, close } = await socketPair();
    try {
      client.write('PROXY TCP4 1.2.3.4');
      const started = performance.now();
      await expect(readProxyHeader(server, 300)).rejects.toThrow('no complete PROXY header within 300 ms');
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      close();
    }
  });

  it('tells a connection closed before sending anything (a TCP health check) from one closed within the header', async () => {
    for (const [sent, routine] of [['', true], ['PROXY TCP4', false]] as const) {
      const { server, client, close } = await socketPair();
      try {
        const header = readProxyHeader(server, 5000);
        client.end(sent);
        const err = (await header.catch((e: unknown) => e)) as ProxyHeaderError;
        expect(err).toBeInstanceOf(ProxyHeaderError);
        expect(err.routine).toBe(routine);
      } finally {
        close();
      }
    }
  });
});

describe('CIDR networks', () => {
  it('parses networks and single addresses, and refuses anything else', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ network: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('fd00::/64')).toEqual({ network: 'fd00::', prefix: 64, family: 'ipv6' });
    expect(parseCidr('192.0.2.1')).toEqual({ network: '192.0.2.1', prefix: 32, family: 'ipv4' });
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'fd00::/129', '10.0.0.0/08', '10.0.0.0/', '10.0.0.0/8/8', 'lb.example', '']) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
  });

  it('matches addresses, IPv4 clients of a dual-stack socket included', () => {
    const matches = addressMatcher(['10.0.0.0/8', '::1']);
    expect(matches('10.1.2.3')).toBe(true);
    expect(matches('::ffff:10.1.2.3')).toBe(true);
    expect(matches('::1')).toBe(true);
    expect(matches('11.0.0.1')).toBe(false);
    expect(matches('unknown')).toBe(false);
  });
});
