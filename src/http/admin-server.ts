import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../observability/logger.js';
import { readinessReport, type Readiness } from './check-readiness.js';

export interface AdminServerOptions {
  readonly host: string;
  /** 0 = any free port. */
  readonly port: number;
  /** The process's registry, or with workers the primary's view that gathers and sums theirs. */
  readonly registry: { readonly contentType: string; metrics(): Promise<string> };
  readonly readiness: () => Promise<Readiness>;
  readonly logger: Logger;
}

export interface AdminServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

type Route = (res: ServerResponse, query: URLSearchParams) => Promise<void> | void;

/**
 * The HTTP listener for operators: `/metrics` (Prometheus text), `/healthz` (the process runs)
 * and `/readyz` (it can serve: 200, or 503 naming what is not ready; `?verbose` adds each
 * forest's state). GET and HEAD only.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const routes = new Map<string, Route>([
    ['/metrics', async (res) => send(res, 200, options.registry.contentType, await options.registry.metrics())],
    ['/healthz', (res) => send(res, 200, TEXT, 'ok\n')],
    [
      '/readyz',
      async (res, query) => {
        const readiness = await options.readiness();
        send(res, readiness.ready ? 200 : 503, TEXT, readinessReport(readiness, query.has('verbose')));
      },
    ],
  ]);
  // Bounded like the LDAP listener: its sockets count against the same descriptor limit, and a
  // client that opens connections and sends nothing (slowloris) must not hold them.
  const server = createServer({ headersTimeout: HTTP_REQUEST_MS, requestTimeout: HTTP_REQUEST_MS, connectionsCheckingInterval: 1000 }, (req, res) => {
    handle(req, res, routes).catch((err: unknown) => {
      options.logger.error({ err, path: req.url }, 'HTTP request failed');
      if (!res.headersSent) send(res, 500, TEXT, 'internal error\n');
      else res.destroy();
    });
  });
  server.maxConnections = HTTP_MAX_CONNECTIONS;
  // A connection that sends nothing at all is no request the timeouts above see.
  server.setTimeout(HTTP_REQUEST_MS);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections alive; they must not hold the shutdown.
        server.closeAllConnections();
      }),
  };
}

const TEXT = 'text/plain; charset=utf-8';
/** Time a request may take to arrive whole; scrapes and probes send theirs at once. */
const HTTP_REQUEST_MS = 10_000;
/** Connections open at once; more are closed as they come (scrapers and probes keep a few). */
const HTTP_MAX_CONNECTIONS = 256;

async function handle(req: IncomingMessage, res: ServerResponse, routes: ReadonlyMap<string, Route>): Promise<void> {
  const [path, query = ''] = (req.url ?? '/').split('?', 2);
  const route = routes.get(path);
  if (!route) return send(res, 404, TEXT, 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, TEXT, 'method not allowed\n');
  }
  await route(res, new URLSearchParams(query));
}

/** Node leaves the body out of a HEAD response by itself. */
function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body);
}
