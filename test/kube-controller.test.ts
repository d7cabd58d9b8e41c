// The controller against the fake API server, through the real client library: what a user sees
// with kubectl (status, conditions, events) after restarts, races, deleted pools and hijacks.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ConditionType, Controller, runController, type RunningController } from '../src/controller/index.ts';
import { createKubeClients, type ReconcileResult } from '../src/kube/index.ts';
import { FakeKubeApi, type JsonObject } from './support/fake-kube-api/index.ts';
import { conditionOf, create, eventsFor, ingressOf, quietLog, service, sleep, until, vipPool, applyVipgateCrds } from './support/fake-kube-api/fixtures.ts';

let api: FakeKubeApi;
const running: RunningController[] = [];

function start(identity: string): RunningController {
  const c = runController({
    kubeconfigText: api.kubeconfig(), log: quietLog, identity, leaseNamespace: 'vipgate-system',
    leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 100, informerRestartMs: 50,
  });
  running.push(c);
  return c;
}

async function stop(c: RunningController): Promise<void> {
  running.splice(running.indexOf(c), 1);
  await c.stop();
}

async function settled(c: RunningController): Promise<void> {
  await until(`${c.identity} leads`, () => c.current() !== undefined);
  await c.current()!.idle();
}

beforeEach(async () => {
  api = new FakeKubeApi();
  applyVipgateCrds(api);
  await api.start();
});
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop();
  await api.stop();
});

test('a LoadBalancer Service gets a VIP in its status, a condition and an Event; other classes are left alone', async () => {
  create(api, 'vippools', vipPool('default', { addresses: ['10.200.0.0/24'], reserved: ['10.200.0.1'] }));
  create(api, 'services', service('nginx'));
  create(api, 'services', service('theirs', { spec: { loadBalancerClass: 'example.com/other' } }));
  const c = start('one');
  await until('VIP written', () => ingressOf(api, 'nginx').length === 1);
  await settled(c);
  assert.deepEqual(ingressOf(api, 'nginx'), ['10.200.0.2']);
  const svc = api.store.get(api.resource('services'), 'default', 'nginx');
  assert.deepEqual((svc['status'] as { loadBalancer: unknown }).loadBalancer, { ingress: [{ ip: '10.200.0.2', ipMode: 'VIP' }] });
  assert.equal(conditionOf(api, 'nginx', ConditionType.vipAllocated)?.['status'], 'True');
  assert.deepEqual(eventsFor(api, 'nginx').map((e) => e.reason), ['VIPAllocated']);
  assert.deepEqual(ingressOf(api, 'theirs'), []);
  assert.equal(conditionOf(api, 'theirs', ConditionType.vipAllocated), undefined, 'a Service of another class is not touched');
});

test('controller restart with 1,000 Services keeps every address', async () => {
  create(api, 'vippools', vipPool('default', { addresses: ['10.200.0.0/20'] }));
  // Created in reverse key order while the controller runs, so it sees them in that order (watch
  // events): first come, first served gives svc-0999 the lowest address, which a rebuild that
  // ignored the status (a LIST is in key order, as a real server's) would hand to svc-0000 instead.
  const first = start('first');
  await settled(first);
  for (let i = 999; i >= 0; i--) create(api, 'services', service(`svc-${String(i).padStart(4, '0')}`));
  const nameOf = (s: JsonObject): string => (s['metadata'] as { name: string }).name;
  // Only the test's Services: `default/kubernetes` (a ClusterIP Service every cluster has) gets no VIP.
  const ours = (): JsonObject[] => api.store.list(api.resource('services'), 'default').filter((s) => nameOf(s).startsWith('svc-'));
  await until('1,000 VIPs', () => ours().every((s) => ingressOf(api, nameOf(s)).length === 1), 60_000);
  await settled(first);
  const before = new Map(ours().map((s) => [nameOf(s), ingressOf(api, nameOf(s))[0]!]));
  assert.equal(before.get('svc-0999'), '10.200.0.1');
  assert.equal(new Set(before.values()).size, 1000, 'no address given twice');
  await stop(first);

  // While no controller runs: low addresses are freed and a new Service arrives.
  api.store.delete(api.resource('services'), 'default', 'svc-0999');
  api.store.delete(api.resource('services'), 'default', 'svc-0500');
  create(api, 'services', service('svc-new'));
  const second = start('second');
  await until('svc-new has a VIP', () => ingressOf(api, 'svc-new').length === 1, 30_000);
  await settled(second);
  for (const [name, address] of before) {
    if (name === 'svc-0999' || name === 'svc-0500') continue;
    assert.deepEqual(ingressOf(api, name), [address], `${name} kept its address`);
  }
  const taken = new Set([...before].filter(([n]) => n !== 'svc-0999' && n !== 'svc-0500').map(([, a]) => a));
  assert.ok(!taken.has(ingressOf(api, 'svc-new')[0]!), 'the new Service got a free address');
});

test('two Services racing for one requested address: one wins, the other gets an Event and no address', async () => {
  create(api, 'vippools', vipPool('default', { addresses: ['10.200.0.0/24'] }));
  const c = start('one');
  await settled(c);
  create(api, 'services', service('b-second', { spec: { loadBalancerIP: '10.200.0.50' } }));
  create(api, 'services', service('a-first', { annotations: { 'vipgate.io/ips': '10.200.0.50' } }));
  await until('both decided', () => conditionOf(api, 'a-first', ConditionType.vipAllocated) !== undefined && conditionOf(api, 'b-second', ConditionType.vipAllocated) !== undefined);
  await c.current()!.idle();
  const holders = ['a-first', 'b-second'].filter((n) => ingressOf(api, n).includes('10.200.0.50'));
  assert.deepEqual(holders, ['b-second'], 'the first to be reconciled keeps it; never both');
  assert.deepEqual(ingressOf(api, 'a-first'), []);
  const cond = conditionOf(api, 'a-first', ConditionType.vipAllocated)!;
  assert.equal(cond['status'], 'False');
  assert.equal(cond['reason'], 'AddressInUse');
  const events = eventsFor(api, 'a-first');
  assert.equal(events.length, 1);
  assert.equal(events[0]!.reason, 'AllocationFailed');
  assert.match(events[0]!.message, /10\.200\.0\.50/);

  // The holder goes away: the waiting Service gets the address on its next reconcile.
  api.store.delete(api.resource('services'), 'default', 'b-second');
  const svc = api.store.get(api.resource('services'), 'default', 'a-first');
  (svc['metadata'] as { labels?: Record<string, string> }).labels = { poke: '1' };
  api.store.update(api.resource('services'), 'default', 'a-first', svc, undefined);
  await until('a-first gets it', () => ingressOf(api, 'a-first').includes('10.200.0.50'));
});

test('a pool deleted while in use: its Services lose the VIP with a reason, others keep theirs', async () => {
  create(api, 'vippools', vipPool('main', { addresses: ['10.200.0.0/24'] }));
  create(api, 'vippools', vipPool('extra', { addresses: ['10.201.0.0/24'], autoAssign: false }));
  create(api, 'services', service('web'));
  create(api, 'services', service('special', { annotations: { 'vipgate.io/pool': 'extra' } }));
  const c = start('one');
  await until('both VIPs', () => ingressOf(api, 'web').length === 1 && ingressOf(api, 'special').length === 1);
  assert.match(ingressOf(api, 'special')[0]!, /^10\.201\.0\./);
  const web = ingressOf(api, 'web');
  api.store.delete(api.resource('vippools'), undefined, 'extra');
  await until('special loses its VIP', () => ingressOf(api, 'special').length === 0);
  await c.current()!.idle();
  assert.deepEqual(ingressOf(api, 'web'), web);
  assert.equal(conditionOf(api, 'special', ConditionType.vipAllocated)?.['reason'], 'NoPool');
  assert.ok(eventsFor(api, 'special').some((e) => e.reason === 'AllocationFailed' && /no pool named "extra"/.test(e.message)));
});

test('an externalIPs hijack is refused with an Event; an allowed external IP is never auto-assigned', async () => {
  create(api, 'vippools', vipPool('lb', { addresses: ['10.200.0.0/28'] }));
  create(api, 'vippools', vipPool('ext', { addresses: ['10.200.1.0/28'], allowExternalIPs: true, autoAssign: true, namespaces: ['team-a'], priority: 10 }));
  create(api, 'services', service('victim', { annotations: { 'vipgate.io/pool': 'lb' } }));
  const c = start('one');
  await until('victim VIP', () => ingressOf(api, 'victim').length === 1);
  const victimIp = ingressOf(api, 'victim')[0]!;
  create(api, 'services', service('hijack', { namespace: 'team-b', spec: { type: 'ClusterIP', loadBalancerClass: null, externalIPs: [victimIp, '10.200.1.5'] } }));
  create(api, 'services', service('legit', { namespace: 'team-a', spec: { type: 'ClusterIP', loadBalancerClass: null, externalIPs: ['10.200.1.1'] } }));
  create(api, 'services', service('auto', { namespace: 'team-a' }));
  await until('hijack decided', () => conditionOf(api, 'hijack', ConditionType.externalIPsAllowed, 'team-b') !== undefined);
  await until('auto VIP', () => ingressOf(api, 'auto', 'team-a').length === 1);
  await c.current()!.idle();
  const events = eventsFor(api, 'hijack', 'team-b');
  assert.deepEqual(events.map((e) => e.reason), ['ExternalIPRejected', 'ExternalIPRejected']);
  // A LIST is in name order (generated names: random), not in the order the Events were written.
  const messages = events.map((e) => e.message).sort();
  assert.match(messages.find((m) => m.includes('allowExternalIPs')) ?? '', /does not set allowExternalIPs/);
  assert.match(messages.find((m) => m.includes('admits namespaces')) ?? '', /admits namespaces team-a only/);
  assert.equal(conditionOf(api, 'hijack', ConditionType.externalIPsAllowed, 'team-b')?.['status'], 'False');
  assert.equal(conditionOf(api, 'legit', ConditionType.externalIPsAllowed, 'team-a')?.['status'], 'True');
  assert.deepEqual(eventsFor(api, 'legit', 'team-a'), []);
  assert.notEqual(ingressOf(api, 'auto', 'team-a')[0], '10.200.1.1', 'the claimed external IP is not handed out');
});

test('first holder keeps an external IP: a later Service claiming it on the same port is refused, naming the holder, across a restart', async () => {
  create(api, 'vippools', vipPool('ext', { addresses: ['10.200.1.0/28'], allowExternalIPs: true, autoAssign: false }));
  const ext = (name: string, port = 80): JsonObject => service(name, { spec: { type: 'ClusterIP', loadBalancerClass: null, externalIPs: ['10.200.1.5'], ports: [{ name: 'p', port, targetPort: 8080 }] } });
  create(api, 'services', ext('nginx'));
  let c = start('one');
  await until('nginx holds it', () => conditionOf(api, 'nginx', ConditionType.externalIPsAllowed)?.['status'] === 'True');
  // `grab` sorts before `nginx`: the name must not decide.
  create(api, 'services', ext('grab'));
  create(api, 'services', ext('other-port', 443));
  await until('grab decided', () => conditionOf(api, 'grab', ConditionType.externalIPsAllowed) !== undefined);
  await until('other-port decided', () => conditionOf(api, 'other-port', ConditionType.externalIPsAllowed) !== undefined);
  await c.current()!.idle();
  const refused = conditionOf(api, 'grab', ConditionType.externalIPsAllowed)!;
  assert.equal(refused['status'], 'False');
  assert.match(refused['message'] as string, /external IP 10\.200\.1\.5 is held by default\/nginx, which claimed it first/);
  assert.ok(eventsFor(api, 'grab').some((e) => e.reason === 'ExternalIPRejected' && /held by default\/nginx/.test(e.message)));
  assert.equal(conditionOf(api, 'nginx', ConditionType.externalIPsAllowed)?.['status'], 'True', 'the holder is not disturbed');
  assert.deepEqual(eventsFor(api, 'nginx'), []);
  assert.equal(conditionOf(api, 'other-port', ConditionType.externalIPsAllowed)?.['status'], 'True', 'another port on the same address is no clash');
  // A restarted controller decides the same from what the objects say.
  await c.stop();
  c = start('two');
  await settled(c);
  assert.equal(conditionOf(api, 'grab', ConditionType.externalIPsAllowed)?.['status'], 'False');
  assert.equal(conditionOf(api, 'nginx', ConditionType.externalIPsAllowed)?.['status'], 'True');
  // The holder goes: the next in line gets the address.
  api.store.delete(api.resource('services'), 'default', 'nginx');
  await until('grab takes over', () => conditionOf(api, 'grab', ConditionType.externalIPsAllowed)?.['status'] === 'True');
});

describe('leader election and watch failures', () => {
  test('two controllers on one API: one leads; when it stops, the other takes over and moves nothing', async () => {
    create(api, 'vippools', vipPool('default', { addresses: ['10.200.0.0/24'] }));
    for (const n of ['c', 'b', 'a']) create(api, 'services', service(n));
    const one = start('one');
    await settled(one);
    const two = start('two');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(one.leading(), true);
    assert.equal(two.leading(), false, 'only one replica is active');
    const before = ['a', 'b', 'c'].map((n) => ingressOf(api, n)[0]);
    await stop(one);
    create(api, 'services', service('d'));
    await until('two leads and serves d', () => two.leading() && ingressOf(api, 'd').length === 1, 5000);
    assert.deepEqual(['a', 'b', 'c'].map((n) => ingressOf(api, n)[0]), before);
    const lease = api.store.get(api.resource('leases'), 'vipgate-system', 'vipgate-controller');
    assert.equal((lease['spec'] as { holderIdentity: string }).holderIdentity, 'two');
  });

  test('watches dropped mid-stream and expired history: no change is missed', async () => {
    create(api, 'vippools', vipPool('default', { addresses: ['10.200.0.0/24'] }));
    const c = start('one');
    await settled(c);
    await until('watches open', () => api.openWatches >= 2);
    api.dropWatches();
    create(api, 'services', service('during-drop'));
    await until('VIP after a drop', () => ingressOf(api, 'during-drop').length === 1);
    api.expireHistory();
    create(api, 'services', service('after-410'));
    await until('VIP after a 410', () => ingressOf(api, 'after-410').length === 1);
    api.failures.push({ method: 'GET', path: '/services', status: 500, count: 2 });
    api.dropWatches();
    create(api, 'services', service('after-500s'));
    await until('VIP after failing relists', () => ingressOf(api, 'after-500s').length === 1);
  });
});

test('the watch event of its own status write is not reconciled again; a change by someone else is', async () => {
  create(api, 'vippools', vipPool('default', { addresses: ['10.200.0.0/24'] }));
  const names = Array.from({ length: 10 }, (_, i) => `echo-${i}`);
  for (const name of names) create(api, 'services', service(name));
  const reconciled = new Map<string, number>();
  class Counting extends Controller {
    override async reconcile(key: string): Promise<ReconcileResult> {
      reconciled.set(key, (reconciled.get(key) ?? 0) + 1);
      return super.reconcile(key);
    }
  }
  const c = new Counting({ clients: createKubeClients({ kubeconfigText: api.kubeconfig() }), log: quietLog, isDefaultClass: false, informerRestartMs: 50 });
  try {
    await c.start();
    await until('every VIP', () => names.every((n) => ingressOf(api, n).length === 1));
    await sleep(200); // the echoes of the writes arrive
    await c.idle();
    // Once each, whether a write's answer or its echo arrives first.
    assert.deepEqual(names.map((n) => reconciled.get(`default/${n}`) ?? 0), names.map(() => 1));

    // Someone else empties a status: that change is reconciled, and the VIP comes back.
    const before = reconciled.get('default/echo-3') ?? 0;
    const services = api.resource('services');
    api.store.update(services, 'default', 'echo-3', { ...api.store.get(services, 'default', 'echo-3'), status: { loadBalancer: {} } }, 'status');
    await until('echo-3 has its VIP again', () => ingressOf(api, 'echo-3').length === 1);
    await c.idle();
    assert.ok((reconciled.get('default/echo-3') ?? 0) > before);
  } finally {
    await c.stop();
  }
});
