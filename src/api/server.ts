import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { PeerStatus, SentRoute } from '../bgp/index.ts';
import type { FrontendCounters, FrontendReadBack } from '../dataplane/dataplane.ts';
import type { Frontend } from '../model/index.ts';
import { explainRequest } from './explain-endpoint.ts';
import type { AgentStatus, DrainStatus, L2StatusView } from './status.ts';
import { servicesView, type SourceProblem, type StatusView } from './views.ts';

export interface ApiDeps {
  readonly status: () => AgentStatus;
  readonly counters: () => Promise<ReadonlyMap<string, FrontendCounters>>;
  /** Addresses of this node that clients can route VIP traffic to (for `vipgate routes`). */
  readonly nodeAddresses: () => Promise<readonly string[]>;
  readonly registry: Registry;
  readonly log: Logger;
  /** Objects the source left out (Kubernetes mode); none in file mode, where a bad file is refused whole. */
  readonly leftOut?: () => readonly SourceProblem[];
  /** The BGP speaker's view while the agent announces by BGP (undefined with static routes). */
  readonly bgp?: () => { peers(): PeerStatus[]; routesSentTo(address: string): SentRoute[] } | undefined;
  /** Taking the node out of service and back (docs/design/013-drain.md). */
  readonly drain?: { status(): DrainStatus; drain(): Promise<DrainStatus>; undrain(): Promise<DrainStatus> };
  /** L2 ownership while the agent answers ARP/NDP (undefined without an l2 section). */
  readonly l2?: () => L2StatusView | undefined;
  /** For `/v1/explain`: this node's name, and the dataplane's read-back from the kernel (when the engine has one). */
  readonly explain?: { readonly node: string; readonly readBack?: (frontends: readonly Frontend[]) => Promise<ReadonlyMap<string, FrontendReadBack>> };
}

/** `/v1/bgp/peers`. */
export interface BgpPeersView {
  readonly peers: readonly PeerStatus[];
  /** Absent from agents older than drain. */
  readonly drain?: DrainStatus;
}

/** `/v1/bgp/routes`: what each peer has been told. */
export interface BgpRoutesView {
  readonly peers: readonly { readonly address: string; readonly state: string; readonly routes: readonly SentRoute[] }[];
}

export interface RoutesView {
  /** The CIDRs served from this node (the VIP interface's routes). */
  readonly prefixes: readonly string[];
  readonly via: readonly string[];
  /** VIPs that are programmed and have a ready backend. */
  readonly advertised: readonly string[];
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

/** POST paths: `vipgate drain` and `vipgate undrain`. */
const ACTIONS = ['/v1/drain', '/v1/undrain'] as const;

/**
 * The agent's HTTP API: /healthz, /metrics (Prometheus), and /v1/* for the CLI. Read-only but for
 * drain and undrain: the config file (or Kubernetes) is the only way to change what is served.
 */
export function createApiServer(deps: ApiDeps, vipRoutes: () => readonly string[]): Server {
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    const path = url.pathname;
    if (req.method === 'POST' && (ACTIONS as readonly string[]).includes(path)) {
      req.resume();
      if (deps.drain === undefined) json(res, 404, { error: 'this agent cannot drain' });
      else json(res, 200, path === '/v1/drain' ? await deps.drain.drain() : await deps.drain.undrain());
      return;
    }
    if (req.method !== 'GET') {
      json(res, 405, { error: `only GET is served here (POST: ${ACTIONS.join(', ')})` });
      return;
    }
    switch (path) {
      case '/healthz': {
        const status = deps.status();
        const pass = status.lastPass;
        const healthy = pass?.ok === true;
        res.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(healthy ? 'ok\n' : `not ready: ${pass === undefined ? 'no reconcile pass yet' : pass.errors.join('; ')}\n`);
        return;
      }
      case '/metrics': {
        const body = await deps.registry.metrics();
        res.writeHead(200, { 'content-type': deps.registry.contentType });
        res.end(body);
        return;
      }
      case '/v1/services':
        json(res, 200, servicesView(deps.status(), await deps.counters(), deps.leftOut?.() ?? []));
        return;
      case '/v1/status': {
        const s = deps.status();
        const view: StatusView = {
          engine: s.engine,
          announcer: s.announcer,
          frontends: s.table.frontends.length,
          problems: s.problems,
          leftOut: deps.leftOut?.() ?? [],
          advertisements: s.advertisements,
          vipInterface: s.vipInterface ?? null,
          lastPass: s.lastPass ?? null,
          configError: s.configError ?? null,
          ...(deps.drain === undefined ? {} : { drain: deps.drain.status() }),
        };
        json(res, 200, view);
        return;
      }
      case '/v1/routes': {
        const view: RoutesView = {
          prefixes: vipRoutes(),
          via: await deps.nodeAddresses(),
          advertised: deps.status().advertisements,
        };
        json(res, 200, view);
        return;
      }
      case '/v1/bgp/peers': {
        const bgp = deps.bgp?.();
        if (bgp === undefined) json(res, 404, { error: 'this agent does not use BGP (no bgp section in its config)' });
        else json(res, 200, { peers: bgp.peers(), ...(deps.drain === undefined ? {} : { drain: deps.drain.status() }) } satisfies BgpPeersView);
        return;
      }
      case '/v1/l2': {
        const l2 = deps.l2?.();
        if (l2 === undefined) json(res, 404, { error: 'this agent does not use L2 mode (no l2 section in its config)' });
        else json(res, 200, l2);
        return;
      }
      case '/v1/explain': {
        const answer = await explainRequest(deps, vipRoutes, url.searchParams);
        json(res, answer.status, answer.body);
        return;
      }
      case '/v1/bgp/routes': {
        const bgp = deps.bgp?.();
        if (bgp === undefined) {
          json(res, 404, { error: 'this agent does not use BGP (no bgp section in its config)' });
          return;
        }
        const view: BgpRoutesView = {
          peers: bgp.peers().map((p) => ({ address: p.address, state: p.state, routes: bgp.routesSentTo(p.address) })),
        };
        json(res, 200, view);
        return;
      }
      default:
        json(res, 404, { error: `no such path: ${path}`, paths: ['/healthz', '/metrics', '/v1/services', '/v1/status', '/v1/routes', '/v1/bgp/peers', '/v1/bgp/routes', '/v1/l2', '/v1/explain', ...ACTIONS] });
    }
  }
  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      deps.log.error({ err: error }, 'API request failed');
      if (!res.headersSent) json(res, 500, { error: (error as Error).message });
      else res.end();
    });
  });
}
