import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeErrorCode } from '../kube/index.ts';
import { poolFromResource, poolsFromResources } from './resources.ts';
import { allocationRequest, ingressAddresses, isOurLoadBalancer } from './service-fields.ts';

test('a VIPPool maps to a Pool with the CRD defaults', () => {
  assert.deepEqual(poolFromResource({ metadata: { name: 'default' }, spec: { addresses: ['10.200.0.0/24'], namespaces: ['team-a'] } }), {
    name: 'default', addresses: ['10.200.0.0/24'], autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: false,
    namespaces: ['team-a'], reserved: [], priority: 0,
  });
  assert.throws(() => poolFromResource({ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.0/8'], autoAssign: 'yes' } }), { code: KubeErrorCode.badResource, message: /spec.autoAssign must be true or false/ });
  assert.throws(() => poolFromResource({ metadata: { name: 'p' }, spec: { addresses: [] } }), /spec.addresses must list/);
});

test('a bad or overlapping pool is left out with a reason and the others stay', () => {
  const { pools, problems } = poolsFromResources([
    { metadata: { name: 'b' }, spec: { addresses: ['10.200.0.0/25'] } },
    { metadata: { name: 'a' }, spec: { addresses: ['10.200.0.0/24'] } },
    { metadata: { name: 'c' }, spec: { addresses: ['not-a-cidr'] } },
  ]);
  assert.deepEqual(pools.map((p) => p.name), ['a']);
  assert.deepEqual(problems.map((p) => p.pool), ['b', 'c']);
});

test('Service fields: class, requested addresses, families, status', () => {
  const svc = {
    metadata: { name: 'web', namespace: 'team-a', annotations: { 'vipgate.io/ips': '10.200.0.5, fd00::5', 'vipgate.io/pool': 'p' } },
    spec: { type: 'LoadBalancer', loadBalancerIP: '10.200.0.9', ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack', ports: [{ port: 53, protocol: 'UDP' }, { port: 9, protocol: 'SCTP' }] },
    status: { loadBalancer: { ingress: [{ ip: 'fd00::5' }, { ip: '10.200.0.5' }, { hostname: 'x' }] } },
  };
  assert.equal(isOurLoadBalancer(svc, { isDefaultClass: true }), true);
  assert.equal(isOurLoadBalancer(svc, { isDefaultClass: false }), false, 'no class: only when vipgate is the default');
  assert.equal(isOurLoadBalancer({ spec: { ...svc.spec, loadBalancerClass: 'other.io/lb' } }, { isDefaultClass: true }), false);
  assert.deepEqual(allocationRequest(svc), {
    service: 'team-a/web', namespace: 'team-a', families: [4, 6], requested: ['10.200.0.5', 'fd00::5'], pool: 'p',
    ports: [{ port: 53, protocol: 'udp' }],
  });
  assert.deepEqual(ingressAddresses(svc), ['10.200.0.5', 'fd00::5']);
});

test('a VIPPool serviceSelector becomes the Pool\'s; {} is no selector; a malformed one is refused naming the field', () => {
  const selector = { matchLabels: { tier: 'gold' }, matchExpressions: [{ key: 'app', operator: 'Exists' }] };
  assert.deepEqual(poolFromResource({ metadata: { name: 'gold' }, spec: { addresses: ['10.0.0.0/24'], serviceSelector: selector } }).serviceSelector, selector);
  assert.equal('serviceSelector' in poolFromResource({ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.0/24'], serviceSelector: {} } }), false);
  assert.throws(() => poolFromResource({ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.0/24'], serviceSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } } }), {
    code: KubeErrorCode.badResource,
    message: /VIPPool p: spec.serviceSelector matchExpressions\[0\]: operator In needs at least one value/,
  });
});

test('a Service\'s labels go with its allocation request (for pools with a serviceSelector)', () => {
  const r = allocationRequest({ metadata: { name: 'web', namespace: 'a', labels: { tier: 'gold' } }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } });
  assert.deepEqual(r.labels, { tier: 'gold' });
});
