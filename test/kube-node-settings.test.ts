// The agent's Kubernetes source with --node-name against the fake API: the node's settings
// follow the LBNodeConfigs and the Node's labels as they change.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { AgentInput } from '../src/agent/agent.ts';
import { startKubernetesSource, type KubernetesSource, type NodeSettings } from '../src/sources/kubernetes.ts';
import { FakeKubeApi } from './support/fake-kube-api/index.ts';
import { create, quietLog, until, applyVipgateCrds } from './support/fake-kube-api/fixtures.ts';

let api: FakeKubeApi;
let source: KubernetesSource;
const seen: NodeSettings[] = [];
const inputs: AgentInput[] = [];

before(async () => {
  api = new FakeKubeApi();
  applyVipgateCrds(api);
  await api.start();
  create(api, 'nodes', { metadata: { name: 'lb1', labels: { 'kubernetes.io/hostname': 'lb1' } }, status: { addresses: [{ type: 'InternalIP', address: '10.180.1.16' }] } });
  source = startKubernetesSource({ kubeconfigText: api.kubeconfig(), log: quietLog, debounceMs: 10, informerRestartMs: 50, nodeName: 'lb1', onNodeSettings: (s) => seen.push(s), onInput: (input) => inputs.push(input) });
  await source.ready;
});
after(async () => {
  await source.stop();
  await api.stop();
});

const lbNodeConfig = (name: string, iface: string, backends = 'pods') => ({
  apiVersion: 'vipgate.io/v1alpha1', kind: 'LBNodeConfig', metadata: { name },
  spec: { nodeSelector: { matchLabels: { 'node-role.kubernetes.io/lb': '' } }, vipInterface: { name: iface, addresses: ['10.200.0.1/24'] }, backends },
});

/** The backends of the last input, as `address:port`. */
const lastBackends = (): string[] => inputs.at(-1)?.services.flatMap((s) => s.ports.flatMap((p) => p.backends.map((b) => `${b.address}:${b.port}`))) ?? [];

test('before any LBNodeConfig the source says why there are no settings; labelling the node picks its config up', async () => {
  assert.equal(seen.length, 1);
  assert.match(!seen[0]!.ok ? seen[0]!.message : '', /no LBNodeConfig selects Node lb1/);
  create(api, 'lbnodeconfigs', lbNodeConfig('lb', 'vip-a'), 'vipgate.io');
  // Created, but the node lacks the role label: still none, and no repeated news.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(seen.length, 1);
  const nodes = api.resource('nodes');
  const node = api.store.get(nodes, undefined, 'lb1');
  api.store.update(nodes, undefined, 'lb1', { ...node, metadata: { ...(node['metadata'] as object), labels: { 'node-role.kubernetes.io/lb': '' } } }, undefined);
  await until('settings from LBNodeConfig lb', () => seen.at(-1)?.ok === true);
  const s = seen.at(-1)!;
  assert.ok(s.ok);
  assert.equal(s.from, 'LBNodeConfig lb');
  assert.equal(s.config.vipInterface.name, 'vip-a');
  assert.deepEqual(source.nodeSettings(), s);
});

test('an edited LBNodeConfig is new settings; a second one selecting the node is refused, naming both', async () => {
  const r = api.resource('lbnodeconfigs', 'vipgate.io');
  const current = api.store.get(r, undefined, 'lb');
  // A worker node and a Service with a node port, for the backends: nodePort setting below.
  create(api, 'nodes', { metadata: { name: 'node1' } });
  const nodes = api.resource('nodes');
  api.store.update(nodes, undefined, 'node1', { ...api.store.get(nodes, undefined, 'node1'), status: { addresses: [{ type: 'InternalIP', address: '10.180.1.21' }], conditions: [{ type: 'Ready', status: 'True' }] } }, 'status');
  create(api, 'vippools', { apiVersion: 'vipgate.io/v1alpha1', kind: 'VIPPool', metadata: { name: 'default' }, spec: { addresses: ['10.200.0.0/24'] } });
  create(api, 'services', { metadata: { name: 'web', namespace: 'default' }, spec: { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', ports: [{ port: 80, nodePort: 30080 }] } });
  const services = api.resource('services');
  api.store.update(services, 'default', 'web', { ...api.store.get(services, 'default', 'web'), status: { loadBalancer: { ingress: [{ ip: '10.200.0.7' }] } } }, 'status');
  api.store.update(r, undefined, 'lb', { ...lbNodeConfig('lb', 'vip-b', 'nodePort'), metadata: current['metadata']! }, undefined);
  await until('vip-b', () => { const s = seen.at(-1); return s?.ok === true && s.config.vipInterface.name === 'vip-b'; });
  await until('node-port backends', () => lastBackends().join() === '10.180.1.21:30080');
  create(api, 'lbnodeconfigs', lbNodeConfig('lb-too', 'vip-c'), 'vipgate.io');
  await until('refused', () => seen.at(-1)?.ok === false);
  const last = seen.at(-1)!;
  assert.match(!last.ok ? last.message : '', /selected by 2 LBNodeConfigs \(lb, lb-too\)/);
  // The agent keeps serving with the last good settings; the source keeps their backends too.
  const before = inputs.length;
  api.store.update(services, 'default', 'web', { ...api.store.get(services, 'default', 'web'), metadata: { ...(api.store.get(services, 'default', 'web')['metadata'] as object), labels: { touched: 'yes' } } }, undefined);
  await until('a new input', () => inputs.length > before);
  assert.deepEqual(lastBackends(), ['10.180.1.21:30080']);
});
