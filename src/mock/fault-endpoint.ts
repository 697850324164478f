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
 */
export async function startFaultEndpoint(
  faults: FaultSwitches,
  options: { port: number; reset: () => void; journal: Journal; logger: Logger },
): Promise<FaultEndpoint> {
  const server = createServer((req, res) => {
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
    return reply(res, 200, { entries: options.journal.entries.filter((e) => e.seq > since), dropped: options.journal.dropped });
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
