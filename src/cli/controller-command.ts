import { once } from 'node:events';
import { createServer } from 'node:http';
import pino from 'pino';
import { Registry, collectDefaultMetrics, Counter, Gauge } from 'prom-client';
import { LOAD_BALANCER_CLASS } from '../kube-model/index.ts';
import type { PoolStats } from '../ipam/index.ts';

export interface ControllerCommandOptions {
  readonly kubeconfig?: string;
  readonly leaseName: string;
  readonly leaseNamespace: string;
  readonly leaseIdentity?: string;
  readonly loadBalancerClass: string;
  readonly defaultLoadBalancerClass: boolean;
  readonly metricsListen: string;
  readonly logLevel: string;
}

/** `vipgate controller`: assigns VIPs to Services while it holds the Lease; runs until a signal. */
export async function runControllerCommand(o: ControllerCommandOptions): Promise<number> {
  if (o.loadBalancerClass !== LOAD_BALANCER_CLASS) {
    process.stderr.write(`vipgate controller: --load-balancer-class ${o.loadBalancerClass} is not supported yet; allowed: ${LOAD_BALANCER_CLASS}\n`);
    return 2;
  }
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(o.metricsListen);
  if (m === null) {
    process.stderr.write(`vipgate controller: --metrics-listen ${o.metricsListen}: expected host:port\n`);
    return 2;
  }
  const log = pino({ level: o.logLevel, base: { component: 'controller' } });
  const { runController } = await import('../controller/index.ts');
  const running = runController({
    log,
    isDefaultClass: o.defaultLoadBalancerClass,
    leaseName: o.leaseName,
    leaseNamespace: o.leaseNamespace,
    ...(o.kubeconfig === undefined ? {} : { kubeconfig: o.kubeconfig }),
    ...(o.leaseIdentity === undefined ? {} : { identity: o.leaseIdentity }),
  });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vipgate_controller_process_' });
  registerControllerMetrics(registry, running);
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        })
        .catch(() => res.writeHead(500).end());
    } else if (req.url === '/healthz') {
      // Readiness: not ready while no replica leads (a refused Lease, say) for a lease duration.
      const h = running.health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${h.ok ? 'ok' : 'not ready'}: ${h.reason}\n`);
    } else if (req.url === '/livez') {
      // Liveness: the process answers. Restarting it would not make a refused Lease acceptable.
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else {
      res.writeHead(404).end();
    }
  });
  server.listen(Number(m[2]), m[1]);
  await once(server, 'listening');
  log.info({ identity: running.identity, metrics: o.metricsListen }, 'controller running');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  log.info('stopping: releasing the lease so a standby takes over at once');
  server.close();
  await running.stop();
  return 0;
}

/** The controller's own metrics (beside Node's process metrics): leading, election health, Lease refusals. */
export function registerControllerMetrics(
  registry: Registry,
  running: { leading(): boolean; health(): { readonly ok: boolean; readonly refusals: number }; current(): { poolStats(): readonly PoolStats[] } | undefined },
): void {
  new Gauge({
    name: 'vipgate_pool_addresses',
    help: 'Addresses of each VIPPool by family and state (total that can be handed out, used, free); exported by the leading replica',
    labelNames: ['pool', 'family', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of running.current()?.poolStats() ?? []) {
        const labels = { pool: s.pool, family: `ipv${s.family}` };
        // A /64 has more addresses than a double holds exactly; the ratio is what alerts read.
        this.set({ ...labels, state: 'total' }, Number(s.total));
        this.set({ ...labels, state: 'used' }, s.used);
        this.set({ ...labels, state: 'free' }, Number(s.free));
      }
    },
  });
  new Gauge({
    name: 'vipgate_controller_leading',
    help: '1 while this replica holds the Lease and assigns VIPs',
    registers: [registry],
    collect() {
      this.set(running.leading() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vipgate_controller_election_ready',
    help: '1 while some replica (this one or another) has held a renewed Lease within the lease duration; 0: no leader, see the log',
    registers: [registry],
    collect() {
      this.set(running.health().ok ? 1 : 0);
    },
  });
  new Counter({
    name: 'vipgate_controller_lease_refusals_total',
    help: 'Lease requests the API server refused (4xx other than conflicts); the log has its words',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(running.health().refusals);
    },
  });
}
