// This node's settings from the LBNodeConfig that selects it (Kubernetes mode without --config).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeLbNodeConfig, KubeNode } from '../kube/index.ts';
import { nodeSettingsFromCluster } from './kubernetes-node.ts';

const lb1: KubeNode = { metadata: { name: 'lb1', labels: { 'node-role.kubernetes.io/lb': '', zone: 'a' } } };
const worker: KubeNode = { metadata: { name: 'node1', labels: { zone: 'a' } } };
const config = (name: string, spec: Record<string, unknown>): KubeLbNodeConfig => ({ metadata: { name }, spec });
const lbNodes = config('lb-nodes', {
  nodeSelector: { matchExpressions: [{ key: 'node-role.kubernetes.io/lb', operator: 'Exists' }] },
  vipInterface: { name: 'cilium_ext', addresses: ['10.200.0.1/24'] },
  dataplane: { denySources: ['10.180.1.0/24'], resyncSeconds: 5 },
});

test('the LBNodeConfig selecting the node by its labels gives the same settings the file would, defaults filled', () => {
  const s = nodeSettingsFromCluster('lb1', [lb1, worker], [lbNodes]);
  assert.ok(s.ok, JSON.stringify(s));
  assert.equal(s.from, 'LBNodeConfig lb-nodes');
  assert.equal(s.config.nodeName, 'lb1');
  assert.equal(s.config.vipInterface.name, 'cilium_ext');
  assert.deepEqual(s.config.vipInterface.addresses, [{ address: '10.200.0.1', prefixLength: 24 }]);
  assert.deepEqual(s.config.dataplane, { engine: 'nftables', snat: 'masquerade', denySources: ['10.180.1.0/24'], resyncSeconds: 5 });
  // No routes named and no pools in a node config: the agent routes the cluster's pools.
  assert.deepEqual(s.config.vipInterface.routes, []);
});

test('spec.backends is the file\'s kubernetes.backends (default pods); a bad value names what is allowed', () => {
  const plain = nodeSettingsFromCluster('lb1', [lb1], [lbNodes]);
  assert.ok(plain.ok);
  assert.equal(plain.config.kubernetes.backends, 'pods');
  const viaNodes = nodeSettingsFromCluster('lb1', [lb1], [config('np', { vipInterface: {}, backends: 'nodePort' })]);
  assert.ok(viaNodes.ok, JSON.stringify(viaNodes));
  assert.equal(viaNodes.config.kubernetes.backends, 'nodePort');
  const bad = nodeSettingsFromCluster('lb1', [lb1], [config('np', { vipInterface: {}, backends: 'nodeport' })]);
  assert.match(bad.ok ? 'accepted' : bad.message, /LBNodeConfig np[\s\S]*backends[\s\S]*pods, nodePort/);
});

test('no nodeSelector selects every node', () => {
  const s = nodeSettingsFromCluster('node1', [lb1, worker], [config('all', { vipInterface: {} })]);
  assert.ok(s.ok);
  assert.equal(s.config.vipInterface.name, 'vipgate0');
});

test('none or two selecting the node is refused, naming them and the node\'s labels', () => {
  const none = nodeSettingsFromCluster('node1', [lb1, worker], [lbNodes]);
  assert.equal(none.ok, false);
  assert.match(none.message, /no LBNodeConfig selects Node node1 \(its labels: zone=a\)/);
  const both = nodeSettingsFromCluster('lb1', [lb1], [lbNodes, config('zone-a', { nodeSelector: { matchLabels: { zone: 'a' } }, vipInterface: {} })]);
  assert.equal(both.ok, false);
  assert.match(both.message, /selected by 2 LBNodeConfigs \(lb-nodes, zone-a\)/);
});

test('a missing Node, a bad selector, an unknown field or a bad value are refused with what is allowed', () => {
  const missing = nodeSettingsFromCluster('lb9', [lb1], [lbNodes]);
  assert.match(!missing.ok ? missing.message : '', /Node lb9 does not exist/);
  const badSelector = nodeSettingsFromCluster('lb1', [lb1], [config('x', { nodeSelector: { matchExpressions: [{ key: 'a', operator: 'Is' }] }, vipInterface: {} })]);
  assert.match(!badSelector.ok ? badSelector.message : '', /LBNodeConfig x: spec.nodeSelector .*not one of In, NotIn, Exists, DoesNotExist/);
  const unknown = nodeSettingsFromCluster('lb1', [lb1], [config('x', { vipInterface: {}, pools: [] })]);
  assert.match(!unknown.ok ? unknown.message : '', /spec.pools is not an LBNodeConfig field; allowed: vipInterface, dataplane, backends, drain, nodeSelector/);
  const badValue = nodeSettingsFromCluster('lb1', [lb1], [config('x', { vipInterface: {}, dataplane: { engine: 'ipvs' } })]);
  assert.equal(badValue.ok, false);
  assert.match(badValue.message, /LBNodeConfig x.*engine[\s\S]*nftables/);
});

test('a cordoned Node or spec.drain: true asks the node to drain, saying which; neither: no request', () => {
  const plain = nodeSettingsFromCluster('lb1', [lb1], [lbNodes]);
  assert.ok(plain.ok);
  assert.equal(plain.config.drainRequest, undefined);
  const cordoned = nodeSettingsFromCluster('lb1', [{ ...lb1, spec: { unschedulable: true } }], [lbNodes]);
  assert.ok(cordoned.ok);
  assert.equal(cordoned.config.drainRequest, 'Node lb1 is cordoned');
  const both = nodeSettingsFromCluster('lb1', [{ ...lb1, spec: { unschedulable: true } }], [config('lb-nodes', { vipInterface: {}, drain: true })]);
  assert.ok(both.ok);
  assert.equal(both.config.drainRequest, 'Node lb1 is cordoned, LBNodeConfig lb-nodes spec.drain');
  const off = nodeSettingsFromCluster('lb1', [lb1], [config('lb-nodes', { vipInterface: {}, drain: false })]);
  assert.ok(off.ok);
  assert.equal(off.config.drainRequest, undefined);
});
