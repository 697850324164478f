// The least a proxy written on Node does per forwarded bind or lookup: frames messages, swaps
// message IDs and the namespace's suffix, and passes answers back, on pooled upstream
// connections. No access rules, no DN parsing, no logging, no metrics, no timeouts, no recovery:
// a floor to measure Canopy against on the same machine, not a server (bench/node-floor.ts runs it).
// Run: node bench/node-relay.ts PORT 'MOUNT|BASE|FORESTPORT' …
import { connect, createServer, type Socket } from 'node:net';

const BIND_CONNECTIONS = 4;
const SEARCH_CONNECTIONS = 4;

interface Forest {
  /** The forest's place in the namespace (lower case), and its own base. */
  readonly mount: string;
  readonly base: Buffer;
  readonly port: number;
  /** Bind connections not in use, and binds waiting for one (one bind at a time per connection). */
  readonly idle: Upstream[];
  readonly waiting: Job[];
  readonly searches: Upstream[];
}

interface Upstream {
  readonly socket: Socket;
  readonly forest: Forest;
}

/** A client's request in flight upstream: where its answers go, under which message ID. */
interface Job {
  readonly client: Socket;
  readonly messageId: number;
  /** The request's protocolOp as it goes upstream. */
  readonly op: Buffer;
  /** Forests still to answer a lookup (its last one sends the SearchResultDone). */
  left: number;
}

const [port, ...specs] = process.argv.slice(2);
const forests: Forest[] = specs.map((spec) => {
  const [mount, base, forestPort] = spec.split('|');
  if (!mount || !base || !(Number(forestPort) > 0)) {
    console.error(`node-relay: "${spec}" is not MOUNT|BASE|PORT`);
    process.exit(2);
  }
  return { mount: mount.toLowerCase(), base: Buffer.from(base), port: Number(forestPort), idle: [], waiting: [], searches: [] };
});
const pending = new Map<number, Job>();
let nextId = 0;
let nextSearch = 0;

for (const forest of forests) {
  for (let i = 0; i < BIND_CONNECTIONS; i++) forest.idle.push(upstream(forest));
  for (let i = 0; i < SEARCH_CONNECTIONS; i++) forest.searches.push(upstream(forest));
}

createServer((client) => {
  client.setNoDelay(true);
  client.on('error', () => client.destroy());
  client.on('data', framer((message, at) => {
    const [messageId, opAt] = integer(message, at);
    const tag = message[opAt];
    if (tag === BIND_REQUEST) bind(client, messageId, message.subarray(opAt));
    else if (tag === SEARCH_REQUEST) search(client, messageId, message.subarray(opAt));
    else if (tag === UNBIND_REQUEST) client.end();
  }));
}).listen(Number(port), '127.0.0.1', () => console.log('relay listening'));

/** A bind goes to the forest whose mount ends its name, with the name moved to the forest's base. */
function bind(client: Socket, messageId: number, op: Buffer): void {
  const [, contentAt] = header(op, 0);
  const [, nameAt] = integer(op, contentAt);
  const [nameLength, nameStart] = header(op, nameAt);
  const name = op.toString('latin1', nameStart, nameStart + nameLength);
  const forest = forests.find((f) => name.toLowerCase().endsWith(f.mount)) ?? forests[0];
  const forestName = Buffer.concat([Buffer.from(name.slice(0, name.length - forest.mount.length), 'latin1'), forest.base]);
  const rest = op.subarray(nameStart + nameLength);
  const version = op.subarray(contentAt, nameAt);
  const job: Job = { client, messageId, op: tlv(BIND_REQUEST, version, tlv(0x04, forestName), rest), left: 1 };
  const connection = forest.idle.pop();
  if (connection) send(connection, job);
  else forest.waiting.push(job);
}

/** A lookup below the suffix goes to every forest, its base moved to each forest's. */
function search(client: Socket, messageId: number, op: Buffer): void {
  const [, baseAt] = header(op, 0);
  const [baseLength, baseStart] = header(op, baseAt);
  const rest = op.subarray(baseStart + baseLength);
  const connection = nextSearch++ % SEARCH_CONNECTIONS;
  const job: Job = { client, messageId, op, left: forests.length };
  for (const forest of forests) send(forest.searches[connection], { ...job, op: tlv(SEARCH_REQUEST, tlv(0x04, forest.base), rest) }, job);
}

function send(connection: Upstream, job: Job, shared: Job = job): void {
  nextId = (nextId % 0x7fffffff) + 1;
  pending.set(nextId, shared);
  connection.socket.write(tlv(0x30, tlv(0x02, integerBytes(nextId)), job.op));
}

function upstream(forest: Forest): Upstream {
  const socket = connect(forest.port, '127.0.0.1');
  socket.setNoDelay(true);
  const connection = { socket, forest };
  socket.on('data', framer((message, at) => {
    const [id, opAt] = integer(message, at);
    const job = pending.get(id);
    if (!job) return;
    const tag = message[opAt];
    const answer = message.subarray(opAt);
    if (tag === BIND_RESPONSE) {
      pending.delete(id);
      job.client.write(tlv(0x30, tlv(0x02, integerBytes(job.messageId)), answer));
      const next = forest.waiting.shift();
      if (next) send(connection, next);
      else forest.idle.push(connection);
    } else if (tag === SEARCH_DONE) {
      pending.delete(id);
      if (--job.left === 0) job.client.write(tlv(0x30, tlv(0x02, integerBytes(job.messageId)), answer));
    } else {
      job.client.write(tlv(0x30, tlv(0x02, integerBytes(job.messageId)), answer));
    }
  }));
  return connection;
}

/** Calls `onMessage` with each whole LDAPMessage (and where its contents start) as bytes arrive. */
function framer(onMessage: (message: Buffer, contentAt: number) => void): (chunk: Buffer) => void {
  let held: Buffer | undefined;
  return (chunk) => {
    const buffer = held ? Buffer.concat([held, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (buffer.length - at < 2) break;
      const lengthBytes = buffer[at + 1] < 0x80 ? 0 : buffer[at + 1] & 0x7f;
      if (buffer.length - at < 2 + lengthBytes) break;
      const [length, contentAt] = header(buffer, at);
      if (buffer.length < contentAt + length) break;
      onMessage(buffer.subarray(at, contentAt + length), contentAt - at);
      at = contentAt + length;
    }
    held = at === buffer.length ? undefined : Buffer.from(buffer.subarray(at));
  };
}

/** A TLV's length and where its contents start. */
function header(buffer: Buffer, at: number): [number, number] {
  const first = buffer[at + 1];
  if (first < 0x80) return [first, at + 2];
  let length = 0;
  for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + buffer[at + 2 + i];
  return [length, at + 2 + (first & 0x7f)];
}

function integer(buffer: Buffer, at: number): [number, number] {
  const [length, start] = header(buffer, at);
  let value = 0;
  for (let i = 0; i < length; i++) value = value * 256 + buffer[start + i];
  return [value, start + length];
}

function integerBytes(value: number): Buffer {
  const bytes: number[] = [];
  do {
    bytes.unshift(value & 0xff);
    value = Math.floor(value / 256);
  } while (value > 0);
  if (bytes[0] & 0x80) bytes.unshift(0);
  return Buffer.from(bytes);
}

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const head = length < 0x80 ? [tag, length] : length < 0x100 ? [tag, 0x81, length] : [tag, 0x82, length >> 8, length & 0xff];
  return Buffer.concat([Buffer.from(head), ...parts]);
}

const BIND_REQUEST = 0x60;
const BIND_RESPONSE = 0x61;
const UNBIND_REQUEST = 0x42;
const SEARCH_REQUEST = 0x63;
const SEARCH_DONE = 0x65;
