import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PeerStatus } from '../bgp/index.ts';
import type { FrontendReadBack } from '../dataplane/dataplane.ts';
import type { Frontend, ServiceSpec } from '../model/index.ts';
import type { ExplainSnapshot } from './explain.ts';
import { findings, NO_MEMORY, nodeReport, reportSignature, type Finding } from './node-report.ts';

const spec = (name: string, vip: string): ServiceSpec => ({
  key: `default/${name}`, namespace: 'default', name, type: 'ClusterIP', externalIPs: [vip], requestedIPs: [], ipFamilies: [4],
  ports: [{ name: 'http', port: 80, protocol: 'tcp', backends: [] }], sessionAffinity: 'None', sourceRanges: [], snat: 'masquerade',
});
const frontend = (name: string, vip: string): Frontend => ({
  key: `${vip}:80/tcp`, service: `default/${name}`, type: 'ExternalIPs', address: vip, family: 4, port: 80, protocol: 'tcp',
  backends: [{ address: '10.100.1.1', port: 80, weight: 1, state: 'ready' }], sessionAffinity: 'None', allowedSources: 'any', snat: 'masquerade',
});
const peer = (state: PeerStatus['state']): PeerStatus => ({ address: '10.10.12.1', asn: 65001, state, prefixesSent: 1, prefixesReceived: 0, updatesSent: 1, updatesReceived: 0, flaps: 0 });
const present: FrontendReadBack = { present: true, takesNewFlows: true, backends: 1, where: 'element' };

/** lb1 serving `count` Services (svc0 on 10.200.0.10, …) by BGP; `missing` are gone from the kernel. */
function snapshot(count: number, o: { missing?: readonly string[]; peer?: PeerStatus['state'] } = {}): ExplainSnapshot {
  const names = Array.from({ length: count }, (_, i) => [`svc${i}`, `10.200.0.${10 + i}`] as const);
  const frontends = names.map(([n, v]) => frontend(n, v));
  const up = (o.peer ?? 'Established') === 'Established';
  return {
    node: 'lb1',
    status: {
      engine: 'nftables', announcer: 'bgp', table: { frontends, denySources: [] }, frontendIds: new Map(), problems: [],
      advertisements: names.map(([, v]) => `${v}/32`),
      input: { pools: [], services: names.map(([n, v]) => spec(n, v)), denySources: [] },
    },
    leftOut: [],
    readBack: new Map(frontends.map((f) => [f.key, (o.missing ?? []).includes(f.service) ? { present: false, takesNewFlows: false, backends: 0, where: 'element' } : present])),
    bgp: {
      peers: [peer(o.peer ?? 'Established')],
      sent: new Map([['10.10.12.1', up ? names.map(([, v]) => ({ prefix: `${v}/32`, nextHops: [], communities: [], largeCommunities: [] })) : []]]),
    },
  };
}

const codes = (f: readonly Finding[]): string[] => f.map((p) => `${p.service} ${p.condition} ${p.reason}`);

test('a healthy node finds nothing wrong; every Service is counted', () => {
  const f = findings(snapshot(3));
  assert.equal(f.services, 3);
  assert.deepEqual(f.problems, []);
});

test('an element gone from the kernel: that Service is not served, the others are', () => {
  const f = findings(snapshot(3, { missing: ['default/svc1'] }));
  assert.deepEqual(codes(f.problems), ['default/svc1 Served KernelDiffers']);
  assert.match(f.problems[0]!.message, /the kernel differs from the table/);
});

test('no BGP session: every Service is not announced, with NoBGPSession', () => {
  const f = findings(snapshot(2, { peer: 'Active' }));
  assert.deepEqual(codes(f.problems), ['default/svc0 Announced NoBGPSession', 'default/svc1 Announced NoBGPSession']);
});

test('a problem of a Service served at the previous look is reported once it has lasted the grace, with the time it was first seen', () => {
  const o = { refreshSeconds: 60, graceMs: 5000, maxProblems: 500 };
  const t0 = new Date('2026-12-06T08:00:00.000Z');
  const healthy = nodeReport(findings(snapshot(2)), NO_MEMORY, true, t0, o);
  const found = findings(snapshot(2, { missing: ['default/svc0'] }));
  const t1 = new Date(t0.getTime() + 5000);
  const first = nodeReport(found, healthy.memory, true, t1, o);
  assert.deepEqual(first.report.problems, [], 'not at the first sighting (a pass may repair it)');
  assert.equal(first.report.served, 2);
  const second = nodeReport(found, first.memory, true, new Date(t1.getTime() + 5000), o);
  assert.deepEqual(second.report.problems.map((p) => [p.service, p.since]), [['default/svc0', t1.toISOString()]]);
  assert.equal(second.report.served, 1);
  assert.equal(second.report.announced, 2);
  // Repaired: gone from the report and from memory.
  const third = nodeReport(findings(snapshot(2)), second.memory, true, new Date(t1.getTime() + 10_000), o);
  assert.deepEqual(third.report.problems, []);
  assert.equal(third.memory.firstSeen.size, 0);
});

test('a Service new at this look has its problem listed at once: its absence would read as served', () => {
  const o = { refreshSeconds: 60, graceMs: 5000, maxProblems: 500 };
  const t0 = new Date('2026-12-06T08:00:00.000Z');
  const before = nodeReport(findings(snapshot(1)), NO_MEMORY, true, t0, o);
  const now = nodeReport(findings(snapshot(2, { missing: ['default/svc1'] })), before.memory, true, new Date(t0.getTime() + 5000), o);
  assert.deepEqual(codes(now.report.problems), ['default/svc1 Served KernelDiffers']);
  const next = nodeReport(findings(snapshot(2, { missing: ['default/svc1'] })), now.memory, true, new Date(t0.getTime() + 6000), o);
  assert.deepEqual(codes(next.report.problems), ['default/svc1 Served KernelDiffers'], 'and it stays listed while it lasts');
});

test('the list is bounded and says so; the signature ignores only the time', () => {
  const o = { refreshSeconds: 60, graceMs: 0, maxProblems: 3 };
  const found = findings(snapshot(5, { peer: 'Idle' }));
  const a = nodeReport(found, NO_MEMORY, true, new Date('2026-12-06T08:00:00.000Z'), o).report;
  assert.equal(a.problems.length, 3);
  assert.equal(a.truncated, true);
  assert.equal(a.announced, 0);
  const b = nodeReport(found, NO_MEMORY, true, new Date('2026-12-06T08:00:09.000Z'), o).report;
  assert.notEqual(reportSignature(a), reportSignature(b), 'since differs');
  const c = nodeReport(found, NO_MEMORY, true, new Date('2026-12-06T08:00:00.000Z'), { ...o, maxProblems: 10 }).report;
  assert.equal(c.truncated, false);
});

test('10,000 Services are walked in well under a second (the snapshot is cut per Service)', () => {
  const snap = snapshot(250);
  // 40 copies of 250 Services under other names: 10,000 keys, each with its own frontend.
  const frontends: Frontend[] = [];
  const services: ServiceSpec[] = [];
  for (let c = 0; c < 40; c++) {
    for (let i = 0; i < 250; i++) {
      const vip = `10.${201 + c}.${Math.floor(i / 250)}.${i}`;
      frontends.push(frontend(`c${c}-${i}`, vip));
      services.push(spec(`c${c}-${i}`, vip));
    }
  }
  const big: ExplainSnapshot = { ...snap, status: { ...snap.status, table: { frontends, denySources: [] }, input: { pools: [], services, denySources: [] } }, readBack: new Map(frontends.map((f) => [f.key, present])) };
  const t = performance.now();
  const f = findings(big);
  const ms = performance.now() - t;
  assert.equal(f.services, 10_000);
  assert.ok(ms < 2000, `${ms.toFixed(0)} ms`);
});
