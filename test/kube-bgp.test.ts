// The agent's Kubernetes source with --node-name against the fake API: BGPPeer and
// BGPAdvertisement objects become the node settings' `bgp` (the same BgpConfig the file gives),
// follow edits, and a bad object is left out with a problem while the others keep working.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { BgpConfig } from '../src/config/index.ts';
import type { KubernetesSourceProblem } from '../src/sources/kubernetes.ts';
import { FakeKubeApi, type JsonObject } from './support/fake-kube-api/index.ts';
import { create, until, applyVipgateCrds } from './support/fake-kube-api/fixtures.ts';
import { createNode, watchNodeSettings, type NodeSettingsWatch } from './support/node-settings-watch.ts';

let api: FakeKubeApi;
let watch: NodeSettingsWatch;

const peer = (name: string, spec: JsonObject): JsonObject => ({ apiVersion: 'vipgate.io/v1alpha1', kind: 'BGPPeer', metadata: { name }, spec });

before(async () => {
  api = new FakeKubeApi();
  applyVipgateCrds(api);
  await api.start();
  createNode(api, 'lb1', { 'node-role.kubernetes.io/lb': '', zone: 'a' }, ['10.180.1.16']);
  create(api, 'lbnodeconfigs', { apiVersion: 'vipgate.io/v1alpha1', kind: 'LBNodeConfig', metadata: { name: 'lb' }, spec: { vipInterface: { name: 'vip0' } } }, 'vipgate.io');
  create(api, 'secrets', { metadata: { name: 'bgp-core2', namespace: 'vipgate-system' }, stringData: { password: 'md5-secret' } });
  create(api, 'bgppeers', peer('core1', { address: '10.180.1.1', asn: 65000, localASN: 65001, holdTimeSeconds: 9 }), 'vipgate.io');
  create(api, 'bgpadvertisements', { apiVersion: 'vipgate.io/v1alpha1', kind: 'BGPAdvertisement', metadata: { name: 'default' }, spec: { communities: ['65001:100'] } }, 'vipgate.io');
  watch = await watchNodeSettings(api, 'lb1');
});
after(async () => {
  await watch.source.stop();
  await api.stop();
});

const bgpNow = (): BgpConfig | undefined => watch.config()?.bgp;
const problems = (): readonly KubernetesSourceProblem[] => watch.problems();

test('the BGPPeer and BGPAdvertisement present at start are the settings\' bgp, router ID from the Node', () => {
  const bgp = bgpNow();
  assert.ok(bgp !== undefined, JSON.stringify(watch.seen.at(-1)));
  assert.equal(bgp.routerId, '10.180.1.16');
  assert.equal(bgp.localASN, 65001);
  assert.deepEqual(bgp.peers.map((p) => `${p.name ?? ''} ${p.address} AS${p.asn} hold ${p.holdTime}`), ['core1 10.180.1.1 AS65000 hold 9']);
  assert.deepEqual(bgp.advertisements.map((a) => a.communities), [['65001:100']]);
  assert.deepEqual(problems(), []);
});

test('a new peer with a password Secret joins; a bad one is a problem naming it and its field, and the others stay', async () => {
  create(api, 'bgppeers', peer('core2', { address: '10.180.1.2', asn: 65000, localASN: 65001, passwordSecretRef: { name: 'bgp-core2' } }), 'vipgate.io');
  // The API server refuses what the CRD's schema can say (a hold time of 1 s is a 422 there);
  // what only the agent can judge, against the other peers, becomes that object's problem.
  assert.throws(() => create(api, 'bgppeers', peer('refused', { address: '10.180.1.4', asn: 65000, localASN: 65001, holdTimeSeconds: 1 }), 'vipgate.io'), /spec\.holdTimeSeconds: Invalid value: "integer": must be 0 \(no keepalives\) or at least 3 seconds \(RFC 4271 §4\.2\), got 1/);
  create(api, 'bgppeers', peer('broken', { address: '10.180.1.3', asn: 65000, localASN: 65001, passwordSecretRef: { name: 'no-such-secret' } }), 'vipgate.io');
  await until('core2 in the settings', () => (bgpNow()?.peers.length ?? 0) === 2);
  assert.deepEqual(bgpNow()?.peers.map((p) => `${p.name ?? ''} ${p.password ?? '-'}`), ['core1 -', 'core2 md5-secret']);
  await until('the problem for broken', () => problems().some((p) => p.object === 'BGPPeer broken'));
  assert.match(problems().find((p) => p.object === 'BGPPeer broken')!.message, /spec\.passwordSecretRef: Secret vipgate-system\/no-such-secret does not exist .*; this peer is left out/);
});

test('a peer moved to other nodes by its nodeSelector leaves; deleting the Secret takes its peer out with a reason', async () => {
  const r = api.resource('bgppeers', 'vipgate.io');
  const current = api.store.get(r, undefined, 'core1');
  api.store.update(r, undefined, 'core1', { ...current, spec: { ...(current['spec'] as JsonObject), nodeSelector: { matchLabels: { zone: 'b' } } } }, undefined);
  await until('core1 gone', () => !(bgpNow()?.peers.some((p) => p.name === 'core1') ?? true));
  api.store.delete(api.resource('secrets'), 'vipgate-system', 'bgp-core2');
  await until('the Secret problem', () => problems().some((p) => p.object === 'BGPPeer core2' && /Secret vipgate-system\/bgp-core2 does not exist/.test(p.message)));
  // No peer selects the node any more: BGP is off in the settings (the agent needs a restart to switch).
  await until('no bgp', () => watch.seen.at(-1)?.ok === true && bgpNow() === undefined);
});
