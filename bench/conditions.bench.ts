// What the Served and Announced conditions cost the API server at 10,000 Services
// (docs/design/019): the controller (in this process, over real HTTP) against the fake API
// server, three LB nodes' LBNodeStatus reports written into it as agents would (each refreshed
// once a minute). Counts the writes the controller makes:
//   1. from the reports' first appearance until every Service has both conditions (the first
//      write of each: bounded by the token bucket, 50 writes/s);
//   2. steady state: a minute with the reports refreshed and nothing changing (target 0);
//   3. after a change: 100 Services not announced on every node, then a minute.
// Run: npx tsx bench/conditions.bench.ts [--quick] (1,000 Services)
import pino from 'pino';
import { createKubeClients } from '../src/kube/index.ts';
import { Controller } from '../src/controller/controller.ts';
import { FakeKubeApi, type JsonObject } from '../test/support/fake-kube-api/index.ts';
import { applyVipgateCrds, ensureNamespace } from '../test/support/fake-kube-api/fixtures.ts';
import { commandLine, formatTable, machine, writeResult } from './lib/report.ts';

const quick = process.argv.includes('--quick');
const SERVICES = quick ? 1000 : 10_000;
const NODES = ['lb1', 'lb2', 'lb3'];
const BROKEN = 100;
const WINDOW_MS = 60_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const t = Date.now();
  while (!check()) {
    if (Date.now() - t > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
  return Date.now() - t;
}

const api = new FakeKubeApi();
applyVipgateCrds(api);
await api.start();
const services = api.resource('services');
const reports = api.resource('lbnodestatuses', 'vipgate.io');
api.store.create(api.resource('vippools'), undefined, { apiVersion: 'vipgate.io/v1alpha1', kind: 'VIPPool', metadata: { name: 'bench' }, spec: { addresses: ['10.200.0.0/16'] } });
for (let n = 0; n < 10; n++) ensureNamespace(api, `ns${n}`);
for (let i = 0; i < SERVICES; i++) {
  api.store.create(services, `ns${i % 10}`, {
    metadata: { name: `svc${i}`, namespace: `ns${i % 10}` },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', allocateLoadBalancerNodePorts: false, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  });
}

const conditionsOf = (o: JsonObject): { type?: string; status?: string }[] => ((o['status'] as JsonObject | undefined)?.['conditions'] ?? []) as { type?: string; status?: string }[];
const count = (pred: (o: JsonObject) => boolean): number => api.store.list(services, undefined).filter(pred).length;
const has = (type: string, status: string) => (o: JsonObject): boolean => conditionsOf(o).some((c) => c.type === `vipgate.io/${type}` && c.status === status);

const log = pino({ level: 'warn' });
const controller = new Controller({ clients: createKubeClients({ kubeconfigText: api.kubeconfig() }), log, isDefaultClass: false });
await controller.start();
const assignMs = await until('every VIP assigned', () => count(has('VIPAllocated', 'True')) === SERVICES, 300_000);

/** The three agents' reports; `broken` Services not announced on every node. */
function writeReports(broken: readonly string[]): void {
  const now = new Date().toISOString();
  for (const node of NODES) {
    const status = {
      observedAt: now, refreshSeconds: 60, services: SERVICES, served: SERVICES, announced: SERVICES - broken.length, announcementChecked: true, truncated: false,
      problems: broken.map((service) => ({ service, condition: 'Announced', reason: 'NoBGPSession', message: 'no BGP session is Established, so no router was told: 10.180.1.1 Active', since: now })),
    };
    const current = api.store.list(reports, undefined).find((o) => (o['metadata'] as JsonObject)['name'] === node);
    if (current === undefined) api.store.create(reports, undefined, { apiVersion: 'vipgate.io/v1alpha1', kind: 'LBNodeStatus', metadata: { name: node }, spec: {} });
    api.store.update(reports, undefined, node, { ...api.store.get(reports, undefined, node), status }, 'status');
  }
}

/** The controller's writes since `from` (index into the request log): Service status, VIPPool status. */
function writesSince(from: number): { services: number; pools: number } {
  const w = api.requests.slice(from).filter((r) => r.method === 'PATCH');
  return { services: w.filter((r) => /^\/api\/v1\/namespaces\/[^/]+\/services\/[^/]+\/status$/.test(r.path)).length, pools: w.filter((r) => /\/vippools\/[^/]+\/status$/.test(r.path)).length };
}

let broken: string[] = [];
const cpu0 = process.cpuUsage();
let mark = api.requests.length;
writeReports(broken);
const refresher = setInterval(() => writeReports(broken), 60_000);
const initialMs = await until('every Service Served and Announced', () => count((o) => has('Served', 'True')(o) && has('Announced', 'True')(o)) === SERVICES, 900_000);
const initial = writesSince(mark);

mark = api.requests.length;
await sleep(WINDOW_MS);
const steady = writesSince(mark);

mark = api.requests.length;
// Spread over the namespaces; svcK lives in nsK%10.
broken = Array.from({ length: BROKEN }, (_, i) => `ns${(i * 7) % 10}/svc${i * 7}`);
writeReports(broken);
const changeMs = await until(`${BROKEN} Services Announced=False`, () => count(has('Announced', 'False')) === BROKEN, 120_000);
await sleep(Math.max(0, WINDOW_MS - changeMs));
const change = writesSince(mark);
clearInterval(refresher);
const cpu = process.cpuUsage(cpu0);
await controller.stop();
await api.stop();

const rows = [
  ['first conditions on every Service', `${(initialMs / 1000).toFixed(1)} s`, String(initial.services), String(initial.pools)],
  ['steady state, 1 min, reports refreshed', '60 s', String(steady.services), String(steady.pools)],
  [`${BROKEN} Services not announced anywhere, 1 min`, `${(changeMs / 1000).toFixed(1)} s to show`, String(change.services), String(change.pools)],
];
process.stdout.write(`${SERVICES} Services, ${NODES.length} LB nodes (VIPs assigned in ${(assignMs / 1000).toFixed(1)} s first)\n`);
process.stdout.write(`${formatTable(['phase', 'time', 'Service status writes', 'VIPPool status writes'], rows)}\n`);
process.stdout.write(`CPU of this process (controller and fake API) over the three phases: ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s\n`);
if (!quick) {
  const path = writeResult('conditions', {
    benchmark: 'conditions', command: commandLine(), machine: machine(), services: SERVICES, nodes: NODES.length,
    initial: { ms: initialMs, ...initial }, steadyPerMinute: steady, change: { broken: BROKEN, ms: changeMs, ...change },
  });
  process.stdout.write(`wrote ${path}\n`);
}
process.exit(0);
