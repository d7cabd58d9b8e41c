import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeService } from '../kube/index.ts';
import { inputFromCluster } from './kubernetes.ts';
import { policy, state, web } from './kubernetes.fixture.ts';

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

test('externalIPs are passed on as claims on any Service type; other classes are not served', () => {
  const ext: KubeService = { metadata: { name: 'ext', namespace: 'shop' }, spec: { type: 'ClusterIP', externalIPs: ['10.200.0.5'], ports: [{ port: 80 }] } };
  const other: KubeService = { ...web, metadata: { name: 'other', namespace: 'shop' }, spec: { ...web.spec, loadBalancerClass: 'example.com/lb' } };
  const { input } = inputFromCluster(state({ services: [ext, other] }), policy);
  assert.deepEqual(input.services.map((s) => `${s.key} ${s.type} ${s.externalIPs.join(',')}`), ['shop/ext ClusterIP 10.200.0.5']);
});

test('the node\'s dataplane.snat applies to every Service (Kubernetes has no per-Service field), also to a cached one', () => {
  const s = state();
  assert.equal(inputFromCluster(s, policy).input.services[0]?.snat, 'masquerade');
  assert.equal(inputFromCluster(s, policy, { mode: 'pods', snat: 'none' }).input.services[0]?.snat, 'none', 'the same Service object, recomputed for the new setting');
  assert.equal(inputFromCluster(s, policy, { mode: 'pods' }).input.services[0]?.snat, 'masquerade');
});
