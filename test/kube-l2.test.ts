// The agent's Kubernetes source with --node-name against the fake API: L2Advertisement objects
// and the Nodes they select become the node settings' `l2` (the same L2Config the file gives),
// follow edits of either, and advertisements that disagree leave a problem naming both.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { L2Config } from '../src/config/index.ts';
import type { KubernetesSourceProblem } from '../src/sources/kubernetes.ts';
import { FakeKubeApi, type JsonObject } from './support/fake-kube-api/index.ts';
import { applyVipgateCrds, create, until } from './support/fake-kube-api/fixtures.ts';
import { createNode, watchNodeSettings, type NodeSettingsWatch } from './support/node-settings-watch.ts';

let api: FakeKubeApi;
let watch: NodeSettingsWatch;

const l2adv = (name: string, spec: JsonObject): JsonObject => ({ apiVersion: 'vipgate.io/v1alpha1', kind: 'L2Advertisement', metadata: { name }, spec });
const lb = { 'node-role.kubernetes.io/lb': '' };

before(async () => {
  api = new FakeKubeApi();
  applyVipgateCrds(api);
  await api.start();
  createNode(api, 'lb1', { ...lb, zone: 'a' }, ['10.180.1.16']);
  createNode(api, 'lb2', { ...lb, zone: 'a' }, ['10.180.1.17']);
  createNode(api, 'w1', { zone: 'a' }, ['10.180.1.50']);
  create(api, 'lbnodeconfigs', {
    apiVersion: 'vipgate.io/v1alpha1', kind: 'LBNodeConfig', metadata: { name: 'lb' },
    spec: { vipInterface: { name: 'vip0' }, nodeSelector: { matchExpressions: [{ key: 'node-role.kubernetes.io/lb', operator: 'Exists' }] } },
  }, 'vipgate.io');
  watch = await watchNodeSettings(api, 'lb1');
});
after(async () => {
  await watch.source.stop();
  await api.stop();
});

const l2Now = (): L2Config | undefined => watch.config()?.l2;
const problems = (): readonly KubernetesSourceProblem[] => watch.problems();

test('without an L2Advertisement the settings have no l2 (L2 mode off)', () => {
  assert.equal(watch.seen.at(-1)?.ok, true, JSON.stringify(watch.seen.at(-1)));
  assert.equal(l2Now(), undefined);
});

test('an L2Advertisement created in the cluster shows up in the settings, the other LB node as its BFD peer', async () => {
  create(api, 'l2advertisements', l2adv('lan', { interfaces: ['eth0'], pools: ['public'], bfd: { minTxMs: 50 } }), 'vipgate.io');
  await until('l2 in the settings', () => l2Now() !== undefined);
  const l2 = l2Now()!;
  assert.deepEqual(l2.advertisements, [{ pools: ['public'], interfaces: ['eth0'] }]);
  assert.deepEqual(l2.peers, [{ name: 'lb2', addresses: ['10.180.1.17'] }], 'w1 has no LBNodeConfig: no agent, no peer');
  assert.deepEqual(l2.bfd, { minTxMs: 50, minRxMs: 100, multiplier: 3 });
  assert.deepEqual(l2.announce, { count: 3, intervalMs: 250, periodicSeconds: 0 });
  assert.equal(l2.failbackHoldDownSeconds, 10);
  assert.deepEqual(problems(), []);
});

test('the schema refuses a bad L2Advertisement, naming the field', () => {
  assert.throws(() => create(api, 'l2advertisements', l2adv('bad', { interfaces: ['eth0'], bfd: { multiplier: 0 } }), 'vipgate.io'), /spec\.bfd\.multiplier/);
  assert.throws(() => create(api, 'l2advertisements', l2adv('bad', { pools: ['public'] }), 'vipgate.io'), /spec\.interfaces: Required value/);
});

test('a new LB Node joins the peers; a second advertisement that disagrees is merged and reported naming both', async () => {
  createNode(api, 'lb3', { ...lb, zone: 'b' }, ['10.180.2.18']);
  await until('lb3 a peer', () => l2Now()?.peers.some((p) => p.name === 'lb3') === true);
  create(api, 'l2advertisements', l2adv('slow', { interfaces: ['eth1'], bfd: { minTxMs: 300 }, nodeSelector: { matchLabels: { zone: 'a' } } }), 'vipgate.io');
  await until('two advertisements', () => l2Now()?.advertisements.length === 2);
  assert.equal(l2Now()?.bfd.minTxMs, 50, 'the smallest transmit interval');
  await until('the disagreement reported', () => problems().some((p) => p.object === 'L2Advertisement slow'));
  assert.match(problems().find((p) => p.object === 'L2Advertisement slow')!.message, /spec\.bfd\.minTxMs 300 differs from 50 in L2Advertisement lan/);
});

test('moving the advertisements away from this node turns L2 off', async () => {
  const r = api.resource('l2advertisements', 'vipgate.io');
  for (const name of ['lan', 'slow']) {
    const current = api.store.get(r, undefined, name);
    api.store.update(r, undefined, name, { ...current, spec: { ...(current['spec'] as JsonObject), nodeSelector: { matchLabels: { zone: 'c' } } } }, undefined);
  }
  await until('no l2', () => watch.seen.at(-1)?.ok === true && l2Now() === undefined);
  assert.ok(!problems().some((p) => p.object.startsWith('L2Advertisement')), JSON.stringify(problems()));
});
