// The controller keeps the VIPPools' status and the admission policy's params ConfigMap in line
// with the pools, and honours serviceSelector; against the fake API with the real client.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { Registry } from 'prom-client';
import { registerControllerMetrics } from '../src/cli/controller-command.ts';
import { runController, type RunningController } from '../src/controller/index.ts';
import { FakeKubeApi, type JsonObject } from './support/fake-kube-api/index.ts';
import { conditionOf, create, ingressOf, quietLog, service, until, vipPool, applyVipgateCrds } from './support/fake-kube-api/fixtures.ts';

let api: FakeKubeApi;
let controller: RunningController;

beforeEach(async () => {
  api = new FakeKubeApi();
  applyVipgateCrds(api);
  await api.start();
});
afterEach(async () => {
  await controller.stop();
  await api.stop();
});

function start(): void {
  controller = runController({ kubeconfigText: api.kubeconfig(), log: quietLog, leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 100, informerRestartMs: 50 });
}
const poolStatus = (name: string): JsonObject => (api.store.get(api.resource('vippools'), undefined, name)['status'] ?? {}) as JsonObject;
const params = (): JsonObject | undefined => {
  try {
    return api.store.get(api.resource('configmaps'), 'vipgate-system', 'vipgate-external-ips');
  } catch {
    return undefined;
  }
};
const paramsData = (): unknown => params()?.['data'];
const poolWrites = (): number => api.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/status') && r.path.includes('/vippools/')).length;

test('VIPPool status: total/used/free per family follow the assignments, with few writes', async () => {
  create(api, 'vippools', vipPool('default', { addresses: ['10.200.0.0/28', 'fd00:200::/124'] }));
  start();
  await until('status written', () => (poolStatus('default')['ipv4'] as JsonObject | undefined)?.['total'] !== undefined);
  assert.deepEqual(poolStatus('default')['ipv4'], { total: '14', used: '0', free: '14' });
  assert.deepEqual(poolStatus('default')['ipv6'], { total: '15', used: '0', free: '15' });
  const before = poolWrites();
  for (let i = 0; i < 5; i++) create(api, 'services', service(`web${i}`));
  await until('five VIPs', () => [0, 1, 2, 3, 4].every((i) => ingressOf(api, `web${i}`).length === 1));
  await until('used 5', () => (poolStatus('default')['ipv4'] as JsonObject)['used'] === '5');
  assert.deepEqual(poolStatus('default')['ipv4'], { total: '14', used: '5', free: '9' });
  assert.ok(poolWrites() - before <= 3, `a burst of assignments is a few status writes, not one each (${poolWrites() - before})`);
  const usable = (poolStatus('default')['conditions'] as JsonObject[]).find((c) => c['type'] === 'vipgate.io/Usable');
  assert.equal(usable?.['status'], 'True');
  // The same figures as metrics, for the pool-exhaustion alert (deploy/monitoring).
  const registry = new Registry();
  registerControllerMetrics(registry, controller);
  const text = await registry.metrics();
  for (const line of ['{pool="default",family="ipv4",state="total"} 14', '{pool="default",family="ipv4",state="used"} 5', '{pool="default",family="ipv4",state="free"} 9', '{pool="default",family="ipv6",state="free"} 15']) {
    assert.ok(text.includes(`vipgate_pool_addresses${line}\n`), `metrics have vipgate_pool_addresses${line}:\n${text}`);
  }
});

test('overlapping pools: both name the conflict; the one left out says so in its condition', async () => {
  create(api, 'vippools', vipPool('a', { addresses: ['10.200.0.0/24'] }));
  create(api, 'vippools', vipPool('b', { addresses: ['10.200.0.128/25', '10.201.0.0/24'] }));
  start();
  await until('conflicts written', () => Array.isArray(poolStatus('b')['conflicts']) && Array.isArray(poolStatus('a')['conflicts']));
  assert.deepEqual(poolStatus('a')['conflicts'], [{ pool: 'b', addresses: ['10.200.0.0/24'] }]);
  assert.deepEqual(poolStatus('b')['conflicts'], [{ pool: 'a', addresses: ['10.200.0.128/25'] }]);
  const cond = (poolStatus('b')['conditions'] as JsonObject[]).find((c) => c['type'] === 'vipgate.io/Usable');
  assert.equal(cond?.['status'], 'False');
  assert.equal(cond['reason'], 'Conflict');
  assert.equal(poolStatus('b')['ipv4'], undefined, 'no usage for a pool IPAM does not use');
});

test('the admission params ConfigMap lists, per namespace, the pools that allow external IPs as CIDRs, follows pool edits, and comes back when deleted', async () => {
  create(api, 'vippools', vipPool('ext', { addresses: ['10.200.1.10-10.200.1.13'], allowExternalIPs: true, namespaces: ['team-a'] }));
  create(api, 'vippools', vipPool('lb', { addresses: ['10.200.0.0/24'] }));
  controller = runController({ kubeconfigText: api.kubeconfig(), log: quietLog, leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 100, informerRestartMs: 50, poolResyncMs: 200 });
  await until('params written', () => paramsData() !== undefined);
  assert.deepEqual(paramsData(), { 'team-a': 'ext=10.200.1.10/31,10.200.1.12/31' });
  const r = api.resource('vippools');
  const lb = api.store.get(r, undefined, 'lb');
  api.store.update(r, undefined, 'lb', { ...lb, spec: { addresses: ['10.200.0.0/24'], allowExternalIPs: true } }, undefined);
  await until('params updated', () => Object.keys(paramsData() as object).length === 2);
  assert.deepEqual(paramsData(), { '.all-namespaces': 'lb=10.200.0.0/24', 'team-a': 'ext=10.200.1.10/31,10.200.1.12/31' });
  api.store.delete(r, undefined, 'ext');
  await until('pool removed from the params', () => Object.keys(paramsData() as object).length === 1);
  // Someone deletes the ConfigMap: the periodic pass writes it again.
  api.store.delete(api.resource('configmaps'), 'vipgate-system', 'vipgate-external-ips');
  await until('params written again', () => paramsData() !== undefined);
  assert.deepEqual(paramsData(), { '.all-namespaces': 'lb=10.200.0.0/24' });
});

test('serviceSelector: a labelled Service gets its VIP from the pool selecting it, others from the rest, a named pool not selecting it is refused', async () => {
  create(api, 'vippools', vipPool('gold', { addresses: ['10.200.9.0/29'], priority: 10, serviceSelector: { matchLabels: { tier: 'gold' } } }));
  create(api, 'vippools', vipPool('general', { addresses: ['10.200.0.0/29'] }));
  start();
  const labelled = (name: string, labels: Record<string, string>, annotations?: Record<string, string>): JsonObject => {
    const s = service(name, annotations === undefined ? {} : { annotations });
    return { ...s, metadata: { ...(s['metadata'] as JsonObject), labels } };
  };
  create(api, 'services', labelled('pay', { tier: 'gold' }));
  create(api, 'services', labelled('blog', { tier: 'bronze' }));
  create(api, 'services', labelled('sneaky', { tier: 'bronze' }, { 'vipgate.io/pool': 'gold' }));
  await until('pay and blog served', () => ingressOf(api, 'pay').length === 1 && ingressOf(api, 'blog').length === 1);
  assert.match(ingressOf(api, 'pay')[0]!, /^10\.200\.9\./);
  assert.match(ingressOf(api, 'blog')[0]!, /^10\.200\.0\./);
  await until('sneaky refused', () => conditionOf(api, 'sneaky', 'vipgate.io/VIPAllocated')?.['status'] === 'False');
  const cond = conditionOf(api, 'sneaky', 'vipgate.io/VIPAllocated')!;
  assert.equal(cond['reason'], 'ServiceNotSelected');
  assert.match(cond['message'] as string, /pool gold selects Services labelled tier=gold only/);
  assert.deepEqual(ingressOf(api, 'sneaky'), []);
});
