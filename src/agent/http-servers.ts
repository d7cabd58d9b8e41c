// The agent's HTTP listeners: the API (loopback by default: it has no authentication) and,
// when asked, a second listener that answers only /metrics and /healthz.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createApiServer, type ApiDeps } from '../api/server.ts';

export interface Listen {
  readonly host: string;
  readonly port: number;
}

export function splitListen(listen: string): Listen {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(listen);
  if (m === null) throw new Error(`--api-listen ${listen}: expected host:port, e.g. 127.0.0.1:9470`);
  return { host: m[1]!, port: Number(m[2]) };
}

export interface HttpServersOptions {
  readonly api: Listen;
  /** `host:port` for /metrics and /healthz only. */
  readonly metricsListen?: string;
  readonly deps: ApiDeps;
  /** The VIP interface's routes (`/v1/routes`). */
  readonly vipRoutes: () => readonly string[];
}

export interface HttpServers {
  close(): void;
}

async function listen(server: Server, where: Listen): Promise<void> {
  server.listen(where.port, where.host);
  await once(server, 'listening');
}

export async function startHttpServers(options: HttpServersOptions): Promise<HttpServers> {
  const server = createApiServer(options.deps, options.vipRoutes);
  await listen(server, options.api);
  // A scraper or kubelet probe gets only /metrics and /healthz, answered by the API's own handler.
  const metricsServer =
    options.metricsListen === undefined
      ? undefined
      : createServer((req, res) => {
          const path = new URL(req.url ?? '/', 'http://agent').pathname;
          if (path === '/metrics' || path === '/healthz') server.emit('request', req, res);
          else res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics and /healthz are served here\n');
        });
  if (metricsServer !== undefined && options.metricsListen !== undefined) await listen(metricsServer, splitListen(options.metricsListen));
  return {
    close() {
      server.close();
      metricsServer?.close();
    },
  };
}
