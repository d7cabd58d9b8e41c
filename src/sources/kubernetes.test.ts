import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeDesiredState } from '../agent/desired.ts';
import type { KubeEndpointSlice, KubeService } from '../kube/index.ts';
import { inputFromCluster, type ClusterState } from './kubernetes.ts';

const policy = { isDefaultClass: false };
const web: KubeService = {
  metadata: { name: 'web', namespace: 'shop', annotations: { 'vipgate.io/sharing-key': 'k' } },
  spec: {
    type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', sessionAffinity: 'ClientIP', loadBalancerSourceRanges: ['192.0.2.0/24'],
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http-alt' }, { name: 'dns', port: 53, protocol: 'UDP' }],
  },
  status: { loadBalancer: { ingress: [{ ip: '10.200.0.7', ipMode: 'VIP' }] } },
};
const slice = (name: string, port: number, endpoints: KubeEndpointSlice['endpoints']): KubeEndpointSlice => ({
  metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port, protocol: 'TCP' }],
  endpoints,
});
const state = (more: Partial<ClusterState> = {}): ClusterState => ({
  services: [web],
  endpointSlices: [
    // Two slices with different numbers for the named target port (a rolling change of the pods' port).
    slice('web-a', 8080, [
      { addresses: ['10.100.1.1'], conditions: { ready: true, serving: true, terminating: false } },
      { addresses: ['10.100.1.2'], conditions: { ready: false, serving: true, terminating: true } },
      { addresses: ['10.100.1.3'], conditions: { ready: false, serving: false, terminating: true } },
      { addresses: ['10.100.1.4'], conditions: { ready: false, serving: false, terminating: false } },
    ]),
    slice('web-b', 9090, [{ addresses: ['10.100.2.1'] }]),
  ],
  nodes: [{ metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '10.180.1.11' }, { type: 'Hostname', address: 'n1' }] } }],
  pools: [{ metadata: { name: 'default' }, spec: { addresses: ['10.200.0.0/24'] } }],
  ...more,
});

test('a Service becomes a ServiceSpec with its status VIP as the requested address and slice backends', () => {
  const { input, problems } = inputFromCluster(state(), policy);
  assert.deepEqual(problems, []);
  assert.equal(input.services.length, 1);
  const spec = input.services[0]!;
  assert.deepEqual({ type: spec.type, requestedIPs: spec.requestedIPs, ipFamilies: spec.ipFamilies, sharingKey: spec.sharingKey, affinity: spec.sessionAffinity, ranges: spec.sourceRanges },
    { type: 'LoadBalancer', requestedIPs: ['10.200.0.7'], ipFamilies: [4], sharingKey: 'k', affinity: 'ClientIP', ranges: ['192.0.2.0/24'] });
  assert.deepEqual(spec.ports[0]!.backends.map((b) => `${b.address}:${b.port} ${b.state}`), [
    '10.100.1.1:8080 ready',
    '10.100.1.2:8080 terminating',
    '10.100.2.1:9090 ready',
  ], 'not serving endpoints are dropped; named ports resolve per slice; ready unset means ready');
  assert.deepEqual(spec.ports[1]!.backends, [], 'no slice has the dns port');
  assert.deepEqual(input.denySources, ['10.180.1.11/32']);
  assert.deepEqual(input.pools.map((p) => p.name), ['default']);
});

test('the agent serves exactly the controller\'s address, and nothing for a Service without status', () => {
  const pending: KubeService = { ...web, metadata: { name: 'pending', namespace: 'shop' }, status: {} };
  const { input } = inputFromCluster(state({ services: [pending, web] }), policy);
  assert.deepEqual(input.services.map((s) => s.key), ['shop/web']);
  const desired = computeDesiredState(input, new Map());
  assert.deepEqual(desired.table.frontends.map((f) => f.key), ['10.200.0.7:53/udp', '10.200.0.7:80/tcp']);
  assert.deepEqual(desired.advertisements, ['10.200.0.7/32']);
});

test('externalIPs are passed on as claims on any Service type; other classes are not served', () => {
  const ext: KubeService = { metadata: { name: 'ext', namespace: 'shop' }, spec: { type: 'ClusterIP', externalIPs: ['10.200.0.5'], ports: [{ port: 80 }] } };
  const other: KubeService = { ...web, metadata: { name: 'other', namespace: 'shop' }, spec: { ...web.spec, loadBalancerClass: 'example.com/lb' } };
  const { input } = inputFromCluster(state({ services: [ext, other] }), policy);
  assert.deepEqual(input.services.map((s) => `${s.key} ${s.type} ${s.externalIPs.join(',')}`), ['shop/ext ClusterIP 10.200.0.5']);
});

test('a pool with a serviceSelector: the agent serves the VIP the controller chose from it (it has no labels to re-judge)', () => {
  const pools = [{ metadata: { name: 'gold' }, spec: { addresses: ['10.200.0.0/24'], serviceSelector: { matchLabels: { tier: 'gold' } } } }];
  const { input, problems } = inputFromCluster(state({ pools }), policy);
  assert.deepEqual(problems, []);
  assert.equal(input.pools[0]?.serviceSelector, undefined);
  const desired = computeDesiredState(input, new Map());
  assert.deepEqual(desired.problems, []);
  assert.deepEqual(desired.table.frontends.map((f) => f.key), ['10.200.0.7:53/udp', '10.200.0.7:80/tcp']);
});

test('the node\'s dataplane.snat applies to every Service (Kubernetes has no per-Service field), also to a cached one', () => {
  const s = state();
  assert.equal(inputFromCluster(s, policy).input.services[0]?.snat, 'masquerade');
  assert.equal(inputFromCluster(s, policy, { mode: 'pods', snat: 'none' }).input.services[0]?.snat, 'none', 'the same Service object, recomputed for the new setting');
  assert.equal(inputFromCluster(s, policy, { mode: 'pods' }).input.services[0]?.snat, 'masquerade');
});
