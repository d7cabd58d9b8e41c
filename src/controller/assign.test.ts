import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeService } from '../kube/index.ts';
import type { Pool } from '../model/index.ts';
import { decide, desiredStatus, rebuildAllocator } from './assign.ts';

const pool = (name: string, addresses: string[], more: Partial<Pool> = {}): Pool => ({
  name, addresses, autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: false, namespaces: [], reserved: [], priority: 0, ...more,
});
const policy = { isDefaultClass: true };
const svc = (name: string, spec: KubeService['spec'] = {}, status?: KubeService['status']): KubeService => ({
  metadata: { name, namespace: 'ns', generation: 2 },
  spec: { type: 'LoadBalancer', ports: [{ port: 80 }], ...spec },
  ...(status === undefined ? {} : { status }),
});

test('a rebuilt allocator keeps status addresses before assigning new ones', () => {
  const services = [svc('z', {}, { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } }), svc('a')];
  const allocator = rebuildAllocator([pool('p', ['10.0.0.0/29'])], services, policy);
  assert.deepEqual(decide(allocator, services[1]!, policy).addresses, ['10.0.0.2'], 'a is new and gets the next free address');
  assert.deepEqual(decide(allocator, services[0]!, policy).addresses, ['10.0.0.1']);
});

test('PreferDualStack settles for the primary family when no pool has the other', () => {
  const allocator = rebuildAllocator([pool('p', ['10.0.0.0/29'])], [], policy);
  const prefer = decide(allocator, svc('x', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' }), policy);
  assert.deepEqual(prefer.addresses, ['10.0.0.1']);
  const require = decide(allocator, svc('y', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' }), policy);
  assert.deepEqual(require.addresses, []);
  assert.equal(require.failure?.reason, 'FamilyUnavailable');
});

test('desiredStatus writes ingress and condition once, then nothing; keeps foreign conditions', () => {
  const allocator = rebuildAllocator([pool('p', ['10.0.0.0/29'])], [], policy);
  const foreign = { type: 'example.com/Other', status: 'True', reason: 'X', message: 'x', lastTransitionTime: '2024-01-01T00:00:00Z' };
  const s = svc('x', {}, { conditions: [foreign] });
  const d = decide(allocator, s, policy);
  const now = new Date('2025-01-01T00:00:00Z');
  const body = desiredStatus(s, d, now) as { loadBalancer: unknown; conditions: { type: string; status: string; lastTransitionTime: string }[] };
  assert.deepEqual(body.loadBalancer, { ingress: [{ ip: '10.0.0.1', ipMode: 'VIP' }] });
  assert.deepEqual(body.conditions.map((c) => `${c.type}=${c.status}`), ['example.com/Other=True', 'vipgate.io/VIPAllocated=True']);
  const written: KubeService = { ...s, status: { loadBalancer: { ingress: [{ ip: '10.0.0.1', ipMode: 'VIP' }] }, conditions: body.conditions as never } };
  assert.equal(desiredStatus(written, decide(allocator, written, policy), new Date('2026-01-01T00:00:00Z')), undefined, 'a second pass changes nothing');
});
