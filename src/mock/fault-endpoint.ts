import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ZodError } from 'zod';
import type { Logger } from '../observability/logger.js';
import type { FaultSpec, FaultSwitches } from './faults.js';
import type { Journal } from './journal.js';

export interface FaultEndpoint {
  readonly url: string;
  close(): Promise<void>;
}

/** Largest request body accepted: a fault spec is a few dozen bytes. */
const MAX_BODY = 16 * 1024;

/**
 * The mock directory's admin endpoint, on loopback only, for test suites in any language:
 * `GET /faults` (active faults and counts), `POST /faults` (a fault spec as JSON → its id),
 * `DELETE /faults` (all), `DELETE /faults/ID`, `POST /reset` (back to the loaded data),
 * `GET /journal` (the operations received, `?since=SEQ` for those after one), `DELETE /journal`.
 *
 * Listening on loopback does not keep web pages out: a browser on the developer's machine reaches
 * 127.0.0.1 too. A page of another origin may send a "simple" POST (text/plain, no preflight), and
 * a page whose DNS name is rebound to 127.0.0.1 sends anything under its own Host. So every request
 * must name a loopback Host with this port (421 otherwise), and a POST must be
 * `application/json` (415 otherwise), which no page can send to another origin without a CORS
 * preflight that this endpoint never grants. DELETE always needs that preflight.
 */
export async function startFaultEndpoint(
  faults: FaultSwitches,
  options: { port: number; reset: () => void; journal: Journal; logger: Logger },
): Promise<FaultEndpoint> {
  const server = createServer((req, res) => {
    const port = (server.address() as AddressInfo).port;
    if (!isLoopbackHost(req.headers.host, port)) {
      return reply(res, 421, { error: `Host must be 127.0.0.1:${port}, localhost:${port} or [::1]:${port}` });
    }
    if (req.method === 'POST' && !isJson(req.headers['content-type'])) {
      return reply(res, 415, { error: 'POST needs Content-Type: application/json' });
    }
    handle(req, res, faults, options).catch((err: unknown) => {
      options.logger.error({ err }, 'mock admin request failed');
      reply(res, 500, { error: 'internal error' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, faults: FaultSwitches, options: { reset: () => void; journal: Journal }): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (path === '/journal' && req.method === 'GET') {
    const since = Number(url.searchParams.get('since') ?? 0);
    return reply(res, 200, options.journal.toJSON(since));
  }
  if (path === '/journal' && req.method === 'DELETE') {
    options.journal.clear();
    return reply(res, 204);
  }
  if (path === '/faults' && req.method === 'GET') return reply(res, 200, { faults: faults.list(), counts: faults.counts });
  if (path === '/faults' && req.method === 'POST') {
    let spec: FaultSpec;
    try {
      spec = JSON.parse(await body(req)) as FaultSpec;
      return reply(res, 201, { id: faults.inject(spec) });
    } catch (err) {
      if (err instanceof SyntaxError || err instanceof ZodError || err instanceof RangeError) {
        return reply(res, 400, { error: err instanceof ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : err.message });
      }
      throw err;
    }
  }
  if (path === '/faults' && req.method === 'DELETE') {
    faults.clear();
    return reply(res, 204);
  }
  const one = /^\/faults\/(\d+)$/.exec(path);
  if (one && req.method === 'DELETE') {
    faults.clear(Number(one[1]));
    return reply(res, 204);
  }
  if (path === '/reset' && req.method === 'POST') {
    options.reset();
    return reply(res, 204);
  }
  reply(res, 404, { error: `no route ${req.method} ${path}` });
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** `127.0.0.1:PORT`, `localhost:PORT` or `[::1]:PORT`: what a client of this listener names, never a page's own DNS name. */
function isLoopbackHost(host: string | undefined, port: number): boolean {
  if (host === undefined) return false;
  let url: URL;
  try {
    url = new URL(`http://${host}`);
  } catch {
    return false;
  }
  return url.host === host.toLowerCase() && LOOPBACK_NAMES.has(url.hostname) && url.port === (port === 80 ? '' : String(port));
}

function isJson(contentType: string | undefined): boolean {
  return contentType?.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new RangeError('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function reply(res: ServerResponse, status: number, payload?: unknown): void {
  if (payload === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
}
