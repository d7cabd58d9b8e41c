import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PeerStatus, SentRoute } from '../bgp/index.ts';
import type { FrontendReadBack } from '../dataplane/dataplane.ts';
import type { Frontend, Pool, ServiceProblem, ServiceSpec } from '../model/index.ts';
import { explain, parseTarget, type ExplainSnapshot, type ExplainTarget, type LinkName } from './explain.ts';
import type { AgentStatus } from './status.ts';

const pool: Pool = { name: 'default', addresses: ['10.200.0.0/24'], autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: true, namespaces: [], reserved: [], priority: 0 };

function spec(name: string, extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    key: `default/${name}`, namespace: 'default', name, type: 'ClusterIP', externalIPs: ['10.200.0.5'], requestedIPs: [], ipFamilies: [4],
    ports: [{ name: 'http', port: 80, protocol: 'tcp', backends: [] }], sessionAffinity: 'None', sourceRanges: [], snat: 'masquerade', ...extra,
  };
}

function frontend(ready = 1, terminating = 0): Frontend {
  const b = (i: number, state: 'ready' | 'terminating') => ({ address: `10.100.1.${i}`, port: 80, weight: 1, state });
  return {
    key: '10.200.0.5:80/tcp', service: 'default/nginx', type: 'ExternalIPs', address: '10.200.0.5', family: 4, port: 80, protocol: 'tcp',
    backends: [...Array.from({ length: ready }, (_, i) => b(i + 1, 'ready')), ...Array.from({ length: terminating }, (_, i) => b(i + 50, 'terminating'))],
    sessionAffinity: 'None', allowedSources: 'any', snat: 'masquerade',
  };
}

const peer = (state: PeerStatus['state'], lastError?: string): PeerStatus => ({ address: '10.10.12.1', asn: 65001, state, prefixesSent: 1, prefixesReceived: 0, updatesSent: 1, updatesReceived: 0, flaps: 0, ...(lastError === undefined ? {} : { lastError }) });
const sent: SentRoute = { prefix: '10.200.0.5/32', nextHops: ['10.10.12.2'], communities: [], largeCommunities: [] };

interface Setup {
  readonly frontends?: readonly Frontend[];
  readonly problems?: readonly ServiceProblem[];
  readonly services?: readonly ServiceSpec[];
  readonly readBack?: FrontendReadBack;
  readonly snap?: Partial<ExplainSnapshot>;
  readonly lastPassErrors?: readonly string[];
}

/** A healthy lb1 serving default/nginx on 10.200.0.5:80 by BGP, with parts changed. */
function snapshot(s: Setup = {}): ExplainSnapshot {
  const frontends = s.frontends ?? [frontend()];
  const status: AgentStatus = {
    engine: 'nftables', announcer: 'bgp', table: { frontends, denySources: ['10.180.1.0/24'] }, frontendIds: new Map(), problems: s.problems ?? [],
    advertisements: frontends.some((f) => f.backends.some((b) => b.state === 'ready')) ? ['10.200.0.5/32'] : [],
    input: { pools: [pool], services: s.services ?? [spec('nginx')], denySources: ['10.180.1.0/24'] },
    lastPass: { at: '2026-12-06T07:00:00.000Z', durationMs: 1, ok: (s.lastPassErrors ?? []).length === 0, errors: s.lastPassErrors ?? [], phases: { desired: 0, host: 0, dataplane: 0, announcer: 0, bookkeeping: 0 } },
  };
  const readBack = s.readBack ?? { present: true, takesNewFlows: true, backends: 1, where: 'element 10.200.0.5 . tcp . 80 in inet vipgate frontends4' };
  return {
    node: 'lb1', status, leftOut: [], drain: { state: 'not-drained', since: '2026-12-06T06:00:00.000Z', requestedBy: [] },
    readBack: new Map(frontends.map((f) => [f.key, readBack])),
    traffic: { before: new Map([['10.200.0.5:80/tcp', { packets: 10n, bytes: 600n }]]), after: new Map([['10.200.0.5:80/tcp', { packets: 14n, bytes: 900n }]]), ms: 1000 },
    bgp: { peers: [peer('Established')], sent: new Map([['10.10.12.1', [sent]]]) },
    ...s.snap,
  };
}

function target(text: string): ExplainTarget {
  const t = parseTarget(text);
  assert.ok(!('error' in t), `${text} parses`);
  return t;
}

/** The first broken link: its name, sentence and fix. */
function firstBroken(s: ExplainSnapshot, text = '10.200.0.5:80'): { link: LinkName; says: string; fix: string } {
  const e = explain(target(text), s);
  assert.equal(e.served, false, 'not served');
  const l = e.links.find((x) => x.state === 'broken')!;
  return { link: l.link, says: l.says, fix: l.fix ?? '' };
}

test('targets: namespace/name, VIP, VIP:port, IPv6 with and without port; anything else is refused with the forms allowed', () => {
  assert.deepEqual(parseTarget('default/nginx'), { kind: 'service', key: 'default/nginx', text: 'default/nginx' });
  assert.deepEqual(parseTarget('10.200.0.5'), { kind: 'vip', address: '10.200.0.5', text: '10.200.0.5' });
  assert.deepEqual(parseTarget('10.200.0.5:80'), { kind: 'vip', address: '10.200.0.5', port: 80, text: '10.200.0.5:80' });
  assert.deepEqual(parseTarget('FD00:200::5'), { kind: 'vip', address: 'fd00:200::5', text: 'FD00:200::5' });
  assert.deepEqual(parseTarget('[fd00:200::5]:443'), { kind: 'vip', address: 'fd00:200::5', port: 443, text: '[fd00:200::5]:443' });
  assert.match((parseTarget('10.200.0.5:0') as { error: string }).error, /port must be 1–65535/);
  assert.match((parseTarget('nginx') as { error: string }).error, /expected namespace\/name, a VIP/);
});

test('a healthy VIP: every link ok (static or sampled ones may be unknown), served', () => {
  for (const text of ['10.200.0.5:80', '10.200.0.5', 'default/nginx']) {
    const e = explain(target(text), snapshot());
    assert.equal(e.served, true, text);
    assert.deepEqual(e.links.map((l) => l.state), Array(9).fill('ok'), text);
    assert.equal(e.service, 'default/nginx');
    assert.deepEqual(e.frontends, ['10.200.0.5:80/tcp']);
    assert.match(e.links.find((l) => l.link === 'announcement')!.says, /10\.10\.12\.1 was sent 10\.200\.0\.5\/32 \(next hop 10\.10\.12\.2\)/);
    assert.match(e.links.find((l) => l.link === 'traffic')!.says, /^4 packets in 1\.0 s$/);
  }
});

test('an unknown Service, and a VIP nobody asks for', () => {
  let b = firstBroken(snapshot({ services: [], frontends: [] }), 'default/nope');
  assert.equal(b.link, 'service');
  assert.match(b.says, /knows no Service default\/nope/);
  assert.match(b.fix, /services: in the config file/);
  b = firstBroken(snapshot({ services: [], frontends: [] }), '10.200.0.9');
  assert.equal(b.link, 'service');
  assert.match(b.says, /no Service asks for 10\.200\.0\.9 \(it is in pool default\)/);
});

test('a Service the source left out names the object and why', () => {
  const b = firstBroken(snapshot({ services: [], frontends: [], snap: { leftOut: [{ object: 'Service default/nope', message: 'no nodePort on port 80/TCP' }] } }), 'default/nope');
  assert.equal(b.link, 'service');
  assert.match(b.says, /Service default\/nope was left out by the source: no nodePort/);
});

test('policy: an external IP no pool allows → policy, with the pool rule as the fix', () => {
  const message = '10.201.0.5 is in no pool that allows externalIPs for namespace default';
  const b = firstBroken(snapshot({ frontends: [], services: [spec('nginx', { externalIPs: ['10.201.0.5'] })], problems: [{ service: 'default/nginx', code: 'EXTERNAL_IP_REJECTED', message }] }), 'default/nginx');
  assert.deepEqual([b.link, b.says], ['policy', message]);
  assert.match(b.fix, /allowExternalIPs: true/);
});

test('allocation: a LoadBalancer IPAM could not serve → allocation', () => {
  const message = 'no pool named nosuch';
  const b = firstBroken(snapshot({ frontends: [], services: [spec('lb', { type: 'LoadBalancer', externalIPs: [], pool: 'nosuch' })], problems: [{ service: 'default/lb', code: 'ALLOCATION_FAILED', message }] }), 'default/lb');
  assert.deepEqual([b.link, b.says], ['allocation', message]);
  assert.match(b.fix, /add addresses to a pool/);
});

test('node: drained or draining → node, with undrain as the fix', () => {
  for (const state of ['drained', 'draining'] as const) {
    const b = firstBroken(snapshot({ snap: { drain: { state, since: '2026-12-06T07:00:00.000Z', requestedBy: ['vipgate drain'] } } }));
    assert.equal(b.link, 'node');
    assert.match(b.says, new RegExp(`lb1 is ${state} since .* \\(vipgate drain\\)`));
    assert.match(b.fix, /vipgate undrain/);
  }
  const drained = snapshot({ snap: { drain: { state: 'drained', since: '2026-12-06T07:00:00.000Z', requestedBy: [] }, bgp: { peers: [peer('Established')], sent: new Map() } } });
  assert.equal(explain(target('10.200.0.5'), drained).links.at(-1)!.says, 'withdrawn from every router: lb1 is drained');
});

test('frontend: a port the Service does not have, and a clash', () => {
  let b = firstBroken(snapshot(), '10.200.0.5:81');
  assert.equal(b.link, 'frontend');
  assert.match(b.says, /10\.200\.0\.5 port 81 is not in this node's service table \(the Service's ports: 80\/tcp\)/);
  b = firstBroken(snapshot({ frontends: [], services: [spec('nginx')], problems: [{ service: 'default/nginx', code: 'FRONTEND_CLASH', message: '10.200.0.5:80/tcp is held by default/old' }] }), 'default/nginx');
  assert.equal(b.link, 'frontend');
  assert.match(b.says, /held by default\/old/);
});

test('backends: none ready (terminating only) → backends, and the VIP is not announced', () => {
  const e = explain(target('10.200.0.5:80'), snapshot({ frontends: [frontend(0, 1)], readBack: { present: true, takesNewFlows: false, backends: 1, where: 'element x' } }));
  const b = e.links.find((l) => l.state === 'broken')!;
  assert.equal(b.link, 'backends');
  assert.match(b.says, /10\.200\.0\.5:80\/tcp: 0 ready, 1 terminating: new connections are refused/);
  assert.match(b.fix!, /make a backend ready/);
  assert.equal(e.links.find((l) => l.link === 'dataplane')!.state, 'ok', 'a closed frontend in the kernel is what the table asks');
});

test('dataplane: the element gone from the kernel, the program detached, a failed pass, an engine without read-back', () => {
  let b = firstBroken(snapshot({ readBack: { present: false, takesNewFlows: false, backends: 0, where: 'element 10.200.0.5 . tcp . 80 in inet vipgate frontends4' } }));
  assert.equal(b.link, 'dataplane');
  assert.match(b.says, /the kernel differs from the table: 10\.200\.0\.5:80\/tcp: no element 10\.200\.0\.5 \. tcp \. 80 in inet vipgate frontends4/);
  assert.match(b.fix, /resyncSeconds/);
  b = firstBroken(snapshot({ readBack: { present: true, takesNewFlows: true, backends: 1, where: 'vg_services entry', program: [{ interface: 'dc', attached: false }] } }));
  assert.match(b.says, /xdp program is not attached to dc/);
  b = firstBroken(snapshot({ lastPassErrors: ['DATAPLANE_FAILED: nft refused'] }));
  assert.match(b.says, /could not program the kernel: DATAPLANE_FAILED: nft refused/);
  const { readBack: _readBack, ...withoutReadBack } = snapshot();
  const e = explain(target('10.200.0.5:80'), withoutReadBack);
  assert.equal(e.links.find((l) => l.link === 'dataplane')!.state, 'unknown');
});

test('traffic never breaks the chain: no packet is unknown', () => {
  const s = snapshot();
  const e = explain(target('10.200.0.5:80'), { ...s, traffic: { before: new Map(), after: new Map(), ms: 500 } });
  assert.equal(e.served, true);
  assert.deepEqual(e.links.find((l) => l.link === 'traffic'), { link: 'traffic', state: 'unknown', says: 'no packet in 0.5 s (no client sent any now, or they do not reach this node)' });
});

test('announcement: BGP session down → announcement with the peer state; Established but not sent → announcement', () => {
  let b = firstBroken(snapshot({ snap: { bgp: { peers: [peer('Active', 'connection refused')], sent: new Map() } } }));
  assert.equal(b.link, 'announcement');
  assert.match(b.says, /no BGP session is Established.*10\.10\.12\.1 Active \(connection refused\)/);
  assert.match(b.fix, /birdc show protocols/);
  b = firstBroken(snapshot({ snap: { bgp: { peers: [peer('Established')], sent: new Map([['10.10.12.1', []]]) } } }));
  assert.match(b.says, /no router was sent 10\.200\.0\.5: 10\.10\.12\.1 \(Established\)/);
  assert.match(b.fix, /bgp\.advertisements/);
});

test('announcement: an aggregate covering the VIP counts as sent', () => {
  const agg: SentRoute = { ...sent, prefix: '10.200.0.0/24' };
  const e = explain(target('10.200.0.5'), snapshot({ snap: { bgp: { peers: [peer('Established')], sent: new Map([['10.10.12.1', [agg]]]) } } }));
  assert.equal(e.served, true);
});

test('announcement: static routes are unknown (nothing to check) with the route to add; L2 names the owner', () => {
  const s = snapshot();
  const { bgp: _bgp, ...noBgp } = s;
  let e = explain(target('10.200.0.5'), { ...noBgp, routes: { prefixes: ['10.200.0.0/24'], via: ['10.10.12.2'] } });
  assert.equal(e.served, true);
  assert.match(e.links.at(-1)!.says, /ip route add 10\.200\.0\.0\/24 via 10\.10\.12\.2/);
  const l2 = { node: 'lb1', eligible: true, why: '', peers: [], counters: { answers: { arp: 0, ndp: 0 }, announcements: 0, ownershipChanges: 0, conflicts: 0 }, failed: [] };
  const row = { vip: '10.200.0.5', interface: 'eth1', since: '2026-12-06T07:00:00.000Z', ranked: ['lb2', 'lb1'] };
  e = explain(target('10.200.0.5'), { ...noBgp, l2: { ...l2, vips: [{ ...row, owner: 'lb2', answering: false, why: 'lb2 ranks first' }] } });
  assert.equal(e.links.at(-1)!.says, 'L2: 10.200.0.5 is answered by lb2 (lb2 ranks first)');
  e = explain(target('10.200.0.5'), { ...noBgp, l2: { ...l2, vips: [] } });
  assert.equal(e.links.find((l) => l.state === 'broken')?.link, 'announcement');
  // Owned here but silent: another MAC answers the probes, or the interface cannot be served.
  e = explain(target('10.200.0.5'), { ...noBgp, l2: { ...l2, vips: [{ ...row, owner: 'lb1', answering: false, why: 'highest rank among lb1, lb2' }] } });
  const silent = e.links.find((l) => l.state === 'broken');
  assert.equal(silent?.says, 'L2: 10.200.0.5 is owned here but not answered on eth1');
  assert.match(silent.fix ?? '', /another MAC answers its probes/);
  e = explain(target('10.200.0.5'), { ...noBgp, l2: { ...l2, failed: [{ interface: 'eth1', message: 'no such device' }], vips: [{ ...row, owner: 'lb1', answering: false, why: 'x' }] } });
  assert.match(e.links.find((l) => l.state === 'broken')?.fix ?? '', /cannot answer on eth1: no such device/);
});

test('announcement: only the sessions of the VIP\'s family count', () => {
  const v6: PeerStatus = { ...peer('Established'), address: 'fd00:180:1::1', families: ['ipv6'] };
  const v4down: PeerStatus = { ...peer('Active'), families: ['ipv4'] };
  const b = firstBroken(snapshot({ snap: { bgp: { peers: [v4down, v6], sent: new Map([['fd00:180:1::1', []]]) } } }));
  assert.equal(b.says, 'no BGP session is Established, so no router was told: 10.10.12.1 Active');
  const e = explain(target('10.200.0.5'), snapshot({ snap: { bgp: { peers: [{ ...peer('Established'), families: ['ipv4'] }, v6], sent: new Map([['10.10.12.1', [sent]]]) } } }));
  assert.equal(e.links.at(-1)!.says, 'BGP: 10.10.12.1 was sent 10.200.0.5/32 (next hop 10.10.12.2)');
});
