import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalIp } from '../net/index.ts';
import { SkipReason } from './errors.ts';
import { planExternalIPsMigration, type MigrateStep, type MigrationStep } from './plan.ts';
import type { MigratableService } from './service.ts';
import { mergePatch } from './testdata/merge-patch.ts';

function svc(name: string, spec: NonNullable<MigratableService['spec']>, extra: Partial<MigratableService['metadata']> = {}): MigratableService {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', ...extra }, spec };
}

function only(steps: MigrationStep[]): MigrationStep {
  assert.equal(steps.length, 1);
  return steps[0]!;
}

function migrated(step: MigrationStep): MigrateStep {
  if (step.action === 'skip') assert.fail(`skipped: ${step.message}`);
  return step;
}

test('the seed nginx Service: ClusterIP with externalIPs 10.200.0.5 becomes a LoadBalancer asking for 10.200.0.5', () => {
  const step = migrated(only(planExternalIPsMigration([svc('nginx', { type: 'ClusterIP', externalIPs: ['10.200.0.5'], ipFamilies: ['IPv4'] }, { resourceVersion: '42' })])));
  assert.deepEqual(step.patch, {
    metadata: { annotations: { 'vipgate.io/ips': '10.200.0.5' } },
    spec: { type: 'LoadBalancer', externalIPs: null, allocateLoadBalancerNodePorts: false },
  });
  assert.equal(step.resourceVersion, '42');
  assert.equal(step.fromType, 'ClusterIP');
});

test('after the patch the Service has no externalIPs, is a LoadBalancer and asks for the same address', () => {
  const before = svc('nginx', { type: 'ClusterIP', clusterIP: '10.96.0.10', externalIPs: ['10.200.0.5'], ipFamilies: ['IPv4'] });
  const step = migrated(only(planExternalIPsMigration([before])));
  const after = mergePatch(before, step.patch) as MigratableService & { spec: Record<string, unknown> };
  assert.equal(after.spec.externalIPs, undefined);
  assert.equal(after.spec.type, 'LoadBalancer');
  assert.equal(after.spec.clusterIP, '10.96.0.10', 'the cluster IP stays');
  assert.equal(after.metadata.annotations?.['vipgate.io/ips'], '10.200.0.5');
});

test('a NodePort Service keeps its node ports; a ClusterIP one gets none', () => {
  const [a, b] = planExternalIPsMigration([
    svc('a', { type: 'NodePort', externalIPs: ['10.200.0.7'] }),
    svc('b', { externalIPs: ['10.200.0.8'] }),
  ]).map(migrated);
  assert.equal(a?.patch.spec.allocateLoadBalancerNodePorts, undefined);
  assert.equal(b?.patch.spec.allocateLoadBalancerNodePorts, false);
});

test('Services without externalIPs are left out; the rest come sorted by namespace/name', () => {
  const steps = planExternalIPsMigration([
    svc('z', { externalIPs: ['10.200.0.9'] }),
    svc('plain', { type: 'ClusterIP' }),
    svc('lb', { type: 'LoadBalancer' }),
    { metadata: { name: 'a', namespace: 'team-b' }, spec: { externalIPs: ['10.200.0.10'] } },
    svc('m', { externalIPs: [] }),
    { metadata: { name: 'nospec' } },
  ]);
  assert.deepEqual(steps.map((s) => `${s.namespace}/${s.name}`), ['default/z', 'team-b/a']);
});

test('Services that cannot move safely are skipped, each with its reason and what to do', () => {
  const cases: [MigratableService, SkipReason, RegExp][] = [
    [svc('lb', { type: 'LoadBalancer', externalIPs: ['10.200.0.5'] }), SkipReason.alreadyLoadBalancer, /Service of their own/],
    [svc('ext', { type: 'ExternalName', externalIPs: ['10.200.0.5'] }), SkipReason.externalName, /ExternalName/],
    [svc('headless', { clusterIP: 'None', externalIPs: ['10.200.0.5'] }), SkipReason.headless, /needs a cluster IP/],
    [svc('bad', { externalIPs: ['10.200.0.500'] }), SkipReason.badAddress, /"10\.200\.0\.500"/],
    [svc('two', { externalIPs: ['10.200.0.5', '10.200.0.6'] }), SkipReason.twoOfOneFamily, /2 IPv4 addresses \(10\.200\.0\.5, 10\.200\.0\.6\).*split it/],
    [svc('v6only', { ipFamilies: ['IPv4'], externalIPs: ['fd00:200::5'] }), SkipReason.familyMismatch, /primary IP family is IPv4.*recreate/],
    [svc('annotated', { externalIPs: ['10.200.0.5'] }, { annotations: { 'vipgate.io/ips': '10.200.0.99' } }), SkipReason.annotationConflict, /10\.200\.0\.99/],
  ];
  for (const [service, reason, message] of cases) {
    const step = only(planExternalIPsMigration([service]));
    if (step.action !== 'skip') assert.fail(`${service.metadata.name} was not skipped`);
    assert.equal(step.reason, reason);
    assert.match(step.message, message);
  }
});

test('an annotation that already asks for the same address is fine', () => {
  migrated(only(planExternalIPsMigration([svc('a', { externalIPs: ['10.200.0.5'] }, { annotations: { 'vipgate.io/ips': '10.200.0.5' } })])));
});

test('addresses are requested in canonical form, repeats once', () => {
  const step = migrated(only(planExternalIPsMigration([svc('a', { ipFamilies: ['IPv6'], externalIPs: ['FD00:0200::0005', 'fd00:200::5'] })])));
  assert.deepEqual(step.addresses, ['fd00:200::5']);
  assert.equal(step.patch.metadata.annotations['vipgate.io/ips'], 'fd00:200::5');
});

test('an IPv4 Service with an IPv6 external address too becomes dual-stack, keeping IPv4 first', () => {
  const step = migrated(only(planExternalIPsMigration([svc('a', { ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', externalIPs: ['10.200.0.5', 'fd00:200::5'] })])));
  assert.equal(step.patch.spec.ipFamilyPolicy, 'RequireDualStack');
  assert.deepEqual(step.patch.spec.ipFamilies, ['IPv4', 'IPv6']);
  assert.equal(step.patch.metadata.annotations['vipgate.io/ips'], '10.200.0.5,fd00:200::5');
  assert.match(step.notes.join('\n'), /dual-stack/);
});

test('a dual-stack Service with only an IPv4 external address is told it gains an IPv6 VIP', () => {
  const step = migrated(only(planExternalIPsMigration([svc('a', { ipFamilies: ['IPv4', 'IPv6'], externalIPs: ['10.200.0.5'] })])));
  assert.equal(step.patch.spec.ipFamilies, undefined);
  assert.match(step.notes.join('\n'), /also gets an IPv6 VIP from a pool/);
});

test('--load-balancer-class is set on every patch when given', () => {
  const step = migrated(only(planExternalIPsMigration([svc('a', { externalIPs: ['10.200.0.5'] })], { loadBalancerClass: 'vipgate.io/lb' })));
  assert.equal(step.patch.spec.loadBalancerClass, 'vipgate.io/lb');
});

test('property: every migrated Service, patched, asks for exactly its old external addresses and has none left', () => {
  const v4 = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => `10.200.${a}.${b}`);
  const v6 = fc.integer({ min: 0, max: 0xffff }).map((n) => `fd00:200::${n.toString(16)}`);
  const service = fc.record({
    name: fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/),
    type: fc.constantFrom(undefined, 'ClusterIP', 'NodePort', 'LoadBalancer'),
    ipFamilies: fc.constantFrom(['IPv4'], ['IPv6'], ['IPv4', 'IPv6'], ['IPv6', 'IPv4']),
    externalIPs: fc.array(fc.oneof(v4, v6), { maxLength: 3 }),
  });
  fc.assert(
    fc.property(fc.array(service, { maxLength: 6 }), (specs) => {
      const services = specs.map((s, i) =>
        svc(`${s.name}-${i}`, { ...(s.type === undefined ? {} : { type: s.type }), ipFamilies: s.ipFamilies, externalIPs: s.externalIPs }),
      );
      const steps = planExternalIPsMigration(services);
      assert.equal(steps.length, services.filter((s) => (s.spec?.externalIPs ?? []).length > 0).length);
      for (const step of steps) {
        if (step.action !== 'migrate') continue;
        const before = services.find((s) => s.metadata.name === step.name)!;
        const after = mergePatch(before, step.patch) as { metadata: { annotations: Record<string, string> }; spec: Record<string, unknown> };
        assert.equal(after.spec.type, 'LoadBalancer');
        assert.equal(after.spec.externalIPs, undefined);
        assert.deepEqual(new Set(after.metadata.annotations['vipgate.io/ips']?.split(',')), new Set(before.spec?.externalIPs?.map(canonicalIp)));
        // Every requested family is one the Service will have.
        const families = after.spec.ipFamilies as string[];
        for (const a of before.spec?.externalIPs ?? []) assert.ok(families.includes(a.includes(':') ? 'IPv6' : 'IPv4'));
      }
    }),
    { numRuns: 300 },
  );
});
