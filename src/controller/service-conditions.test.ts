import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeLbNodeStatus, KubeService, KubeVipPool } from '../kube/index.ts';
import { conditionsPatch, freshViews, poolAnnounced, serviceStates, vipAnnouncements } from './service-conditions.ts';

const policy = { isDefaultClass: false };
const T0 = Date.parse('2026-12-06T08:00:00.000Z');
const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

function service(name: string, vip: string, allocatedAt = at(0)): KubeService {
  return {
    metadata: { name, namespace: 'default', resourceVersion: '1' },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', ports: [{ port: 80 }] },
    status: {
      loadBalancer: { ingress: [{ ip: vip, ipMode: 'VIP' }] },
      conditions: [{ type: 'vipgate.io/VIPAllocated', status: 'True', reason: 'Allocated', message: `VIPs ${vip}`, lastTransitionTime: allocatedAt }],
    },
  };
}

function report(node: string, observedAt: string, problems: { service: string; condition: string; reason: string; message?: string }[] = [], extra: Record<string, unknown> = {}): KubeLbNodeStatus {
  return { metadata: { name: node }, status: { observedAt, refreshSeconds: 60, services: 1, served: 1, announced: 1, announcementChecked: true, truncated: false, problems: problems.map((p) => ({ message: 'm', since: at(0), ...p })), ...extra } };
}

const states = (svc: KubeService, reports: KubeLbNodeStatus[], now = T0 + 30_000) => serviceStates(svc, freshViews(reports, new Date(now)), policy);

test('served when one LB node serves it, even if another does not', () => {
  const s = states(service('web', '10.200.0.5'), [report('lb1', at(10)), report('lb2', at(10), [{ service: 'default/web', condition: 'Served', reason: 'KernelDiffers' }])]);
  assert.equal(s?.served.status, 'True');
  assert.equal(s.announced.status, 'True');
});

test('False with the first node\'s reason when every node has the problem; the message names each', () => {
  const bad = { service: 'default/web', condition: 'Announced', reason: 'NoBGPSession', message: 'no session' };
  const s = states(service('web', '10.200.0.5'), [report('lb2', at(10), [bad]), report('lb1', at(10), [{ ...bad, reason: 'Drained', message: 'drained' }])]);
  assert.equal(s?.served.status, 'True');
  assert.deepEqual(s.announced, { status: 'False', reason: 'Drained', message: 'lb1: drained; lb2: no session' });
});

test('Unknown without a fresh report, and for a Service newer than every report', () => {
  const svc = service('web', '10.200.0.5');
  assert.equal(states(svc, [])?.served.reason, 'NoReport');
  // Observed at 10 s, refreshed every 60 s: stale after 190 s.
  assert.equal(states(svc, [report('lb1', at(10))], T0 + 180_000)?.served.status, 'True');
  assert.equal(states(svc, [report('lb1', at(10))], T0 + 200_000)?.served.status, 'Unknown');
  assert.deepEqual(states(service('new', '10.200.0.6', at(20)), [report('lb1', at(10))])?.served, { status: 'Unknown', reason: 'NoReport', message: 'no LB node has reported since the Service got its VIPs' });
});

test('static routes: Announced is Unknown; a truncated report leaves the unlisted Unknown, not True', () => {
  assert.equal(states(service('web', '10.200.0.5'), [report('lb1', at(10), [], { announcementChecked: false })])?.announced.reason, 'StaticRoutes');
  const s = states(service('web', '10.200.0.5'), [report('lb1', at(10), [{ service: 'default/other', condition: 'Served', reason: 'KernelDiffers' }], { truncated: true })]);
  assert.equal(s?.served.status, 'Unknown');
});

test('not ours (no VIP, another class): no conditions, and ours are removed', () => {
  const svc = service('web', '10.200.0.5');
  const other: KubeService = { ...svc, spec: { ...svc.spec, loadBalancerClass: 'other.io/lb' } };
  assert.equal(serviceStates(other, [], policy), undefined);
  const withOurs: KubeService = { ...other, status: { conditions: [...(svc.status?.conditions ?? []), { type: 'vipgate.io/Served', status: 'True', reason: 'Served', message: '', lastTransitionTime: at(0) }] } };
  assert.deepEqual(conditionsPatch(withOurs, undefined, new Date(T0))?.map((c) => c.type), ['vipgate.io/VIPAllocated']);
});

test('written only on change, in place, and lastTransitionTime moves only when the status flips', () => {
  const svc = service('web', '10.200.0.5');
  const ok = states(svc, [report('lb1', at(10))]);
  const first = conditionsPatch(svc, ok, new Date(T0 + 30_000));
  assert.deepEqual(first?.map((c) => `${c.type}=${c.status}`), ['vipgate.io/VIPAllocated=True', 'vipgate.io/Served=True', 'vipgate.io/Announced=True']);
  const written: KubeService = { ...svc, status: { ...svc.status, conditions: first } };
  assert.equal(conditionsPatch(written, ok, new Date(T0 + 40_000)), undefined, 'nothing changed: no write');
  // The VIPAllocated writer puts its type last: ours keep their places after that.
  const reordered: KubeService = { ...written, status: { ...written.status, conditions: [first[1]!, first[2]!, first[0]!] } };
  assert.equal(conditionsPatch(reordered, ok, new Date(T0 + 40_000)), undefined);
  const down = states(svc, [report('lb1', at(50), [{ service: 'default/web', condition: 'Served', reason: 'KernelDiffers' }])], T0 + 60_000);
  const flipped = conditionsPatch(written, down, new Date(T0 + 60_000))!;
  const served = flipped.find((c) => c.type === 'vipgate.io/Served')!;
  assert.equal(served.status, 'False');
  assert.equal(served.lastTransitionTime, new Date(T0 + 60_000).toISOString());
  assert.equal(flipped.find((c) => c.type === 'vipgate.io/Announced')!.lastTransitionTime, new Date(T0 + 30_000).toISOString(), 'Announced did not flip');
});

test('a pool is not announced when some VIP of it is announced nowhere', () => {
  const pool: KubeVipPool = { metadata: { name: 'public' }, spec: { addresses: ['10.200.0.0/24'] } };
  const other: KubeVipPool = { metadata: { name: 'other' }, spec: { addresses: ['10.201.0.0/24'] } };
  const svcs = [service('web', '10.200.0.5'), service('api', '10.200.0.6')];
  const bad = { service: 'default/api', condition: 'Announced', reason: 'NoBGPSession' };
  const views = freshViews([report('lb1', at(10), [bad])], new Date(T0 + 30_000));
  const vips = vipAnnouncements(svcs, (s) => serviceStates(s, views, policy));
  const state = poolAnnounced(pool, vips);
  assert.equal(state.status, 'False');
  assert.match(state.message, /^1 of 2 VIPs announced by no LB node: 10\.200\.0\.6 \(default\/api: NoBGPSession\)$/);
  assert.deepEqual(poolAnnounced(other, vips), { status: 'True', reason: 'Announced', message: 'no Service holds a VIP of this pool' });
});
