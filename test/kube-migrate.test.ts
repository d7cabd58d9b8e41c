// `vipgate migrate external-ips --apply` against the fake API with the controller running:
// the Service changes type through the API, and keeps the address it had (nothing moves).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { runController, type RunningController } from '../src/controller/index.ts';
import { createKubeClients } from '../src/kube/index.ts';
import { applyExternalIPsMigration } from '../src/migrate/index.ts';
import { VIPGATE_BIN } from '../lab/scenario.ts';
import { FakeKubeApi, type JsonObject } from './support/fake-kube-api/index.ts';
import { conditionOf, create, eventsFor, ingressOf, quietLog, sleep, until, vipPool, applyVipgateCrds } from './support/fake-kube-api/fixtures.ts';

const run = promisify(execFile);

let api: FakeKubeApi;
let controller: RunningController;
let dir: string;
let kubeconfig: string;

before(async () => {
  api = new FakeKubeApi();
  applyVipgateCrds(api);
  await api.start();
  dir = await mkdtemp(join(tmpdir(), 'vgt-migrate-'));
  kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, api.kubeconfig());
  controller = runController({ kubeconfigText: api.kubeconfig(), log: quietLog, leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 100, informerRestartMs: 50 });
});
after(async () => {
  await controller.stop();
  await api.stop();
  await rm(dir, { recursive: true, force: true });
});

const services = () => api.resource('services');
const get = (name: string, namespace = 'default'): JsonObject => api.store.get(services(), namespace, name);
const specOf = (name: string): JsonObject => get(name)['spec'] as JsonObject;

/** `vipgate migrate external-ips --apply` as a user runs it; never rejects, so the status can be asserted. */
async function migrateApply(): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // The controller here serves only its own class (not the default): the class must be set.
    const r = await run(VIPGATE_BIN, ['migrate', 'external-ips', '--apply', '--kubeconfig', kubeconfig, '--load-balancer-class', 'vipgate.io/lb'], { timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('the nginx Service moves from externalIPs to LoadBalancer and keeps 10.200.0.5; the pool\'s other address stays with its holder', async () => {
  // Two addresses: while nginx claims .5 through externalIPs, auto-assignment can only hand out .6.
  create(api, 'vippools', vipPool('default', { addresses: ['10.200.0.5/32', '10.200.0.6/32'], allowExternalIPs: true, namespaces: ['default'] }));
  create(api, 'services', { metadata: { name: 'nginx', namespace: 'default' }, spec: { type: 'ClusterIP', selector: { app: 'nginx' }, externalIPs: ['10.200.0.5'], ports: [{ port: 80, targetPort: 80 }] } });
  create(api, 'services', { metadata: { name: 'legacy', namespace: 'shop' }, spec: { type: 'ClusterIP', externalIPs: ['10.200.0.20', '10.200.0.21'], ports: [{ port: 80 }] } });
  create(api, 'services', { metadata: { name: 'other', namespace: 'default' }, spec: { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', ports: [{ port: 80 }] } });
  await until('other to get a VIP', () => ingressOf(api, 'other').length === 1);
  assert.deepEqual(ingressOf(api, 'other'), ['10.200.0.6']);

  const first = await migrateApply();
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^migrated default\/nginx: ClusterIP with externalIPs 10\.200\.0\.5 -> type: LoadBalancer requesting 10\.200\.0\.5$/m);
  assert.match(first.stdout, /^skipped shop\/legacy: externalIPs holds 2 IPv4 addresses/m);
  assert.match(first.stdout, /1 migrated, 1 skipped, 0 unchanged, 0 failed\.\n$/);

  // What `kubectl get svc nginx -o yaml` shows.
  const spec = specOf('nginx');
  assert.equal(spec['type'], 'LoadBalancer');
  assert.equal(spec['externalIPs'], undefined);
  assert.equal(spec['allocateLoadBalancerNodePorts'], false);
  assert.equal(spec['loadBalancerClass'], 'vipgate.io/lb');
  assert.equal(((get('nginx')['metadata'] as JsonObject)['annotations'] as JsonObject)['vipgate.io/ips'], '10.200.0.5');
  assert.deepEqual(specOf('other')['type'], 'LoadBalancer');

  // The controller serves the same address to the same Service; the other Service keeps its own.
  await until('nginx to hold 10.200.0.5 as a LoadBalancer', () => ingressOf(api, 'nginx').length === 1);
  assert.deepEqual(ingressOf(api, 'nginx'), ['10.200.0.5']);
  assert.deepEqual(ingressOf(api, 'other'), ['10.200.0.6']);
  assert.deepEqual(eventsFor(api, 'nginx').filter((e) => e.reason === 'AllocationFailed'), []);

  // A second run finds nothing to move and touches nothing.
  const rv = (get('nginx')['metadata'] as JsonObject)['resourceVersion'];
  const second = await migrateApply();
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stdout, /^migrated/m);
  assert.match(second.stdout, /nothing changed \(0 migrated, 1 skipped, 0 unchanged, 0 failed\)/);
  assert.equal((get('nginx')['metadata'] as JsonObject)['resourceVersion'], rv);
});

test('a 409 on the patch: the Service is re-read and patched again; a refused one fails alone', async () => {
  create(api, 'services', { metadata: { name: 'a', namespace: 'team' }, spec: { type: 'ClusterIP', externalIPs: ['10.200.0.30'], ports: [{ port: 80 }] } });
  create(api, 'services', { metadata: { name: 'b', namespace: 'team' }, spec: { type: 'ClusterIP', externalIPs: ['10.200.0.31'], ports: [{ port: 80 }] } });
  // The controller writes their status first (externalIPs not allowed there); once it has, the
  // injected failures below can only meet our patches.
  await until('the controller to judge a and b', () => ['a', 'b'].every((n) => conditionOf(api, n, 'vipgate.io/ExternalIPsAllowed', 'team') !== undefined));
  await sleep(200);
  api.failures.push({ method: 'PATCH', path: '/namespaces/team/services/a', status: 409, count: 1 });
  api.failures.push({ method: 'PATCH', path: '/namespaces/team/services/b', status: 500, count: 5 });
  const outcomes = await applyExternalIPsMigration(createKubeClients({ kubeconfigText: api.kubeconfig() }));
  const team = outcomes.filter((o) => o.namespace === 'team');
  assert.deepEqual(team.map((o) => `${o.name} ${o.result}`), ['a migrated', 'b failed']);
  assert.equal(team[0]?.result === 'migrated' ? team[0].attempts : 0, 2);
  assert.equal((api.store.get(services(), 'team', 'a')['spec'] as JsonObject)['type'], 'LoadBalancer');
  assert.equal((api.store.get(services(), 'team', 'b')['spec'] as JsonObject)['type'], 'ClusterIP');
  // The failure was the server's; once it recovers, a rerun finishes the job.
  api.failures.length = 0;
  const rerun = await migrateApply();
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(rerun.stdout, /^migrated team\/b:/m);
});
