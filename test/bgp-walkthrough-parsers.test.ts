// The pure pieces of the BGP walk-through lab (no root): BIRD's config as written, and the
// readers of `birdc show route|protocols`, `ip route` and the flow probe's failover gap, on
// text captured from the lab (BIRD 2.0.12, iproute2 6.1).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBirdProtocols, parseBirdRoutes, routerBirdConfig } from '../lab/bird.ts';
import { failoverGap, type FlowSample } from '../lab/probe.ts';
import { demoBgpSection, demoRouterBirdConfig, parseKernelRoutes } from '../lab/scenario-bgp.ts';
import { demoTopology } from '../lab/topologies.ts';

test('the demo router config peers with both nodes on both families, merges paths, and only lb1 has the password', () => {
  const text = demoRouterBirdConfig('s3cret');
  assert.match(text, /merge paths yes/);
  assert.match(text, /protocol bgp lb1v4 from lbnode \{ neighbor 10\.180\.1\.16 as 65002; password "s3cret"; ipv4 \{/);
  assert.match(text, /protocol bgp lb1v6 from lbnode \{ neighbor fd00:180:1::16 as 65002; password "s3cret"; ipv6 \{/);
  assert.match(text, /protocol bgp lb2v4 from lbnode \{ neighbor 10\.180\.1\.17 as 65002; ipv4 \{/);
  assert.match(text, /hold time 3; keepalive time 1;/);
  assert.throws(() => routerBirdConfig({ routerId: '10.0.0.1', localAsn: 1, neighbors: [{ name: 'a', address: '10.0.0.2', asn: 2 }, { name: 'a', address: '10.0.0.3', asn: 2 }] }), /unique/);
  assert.match(routerBirdConfig({ routerId: '10.0.0.1', localAsn: 1, neighbors: [{ name: 'a', address: '10.0.0.2', asn: 2, password: 'x"y' }] }), /password "x\\"y";/);
});

test('the bgp: section of a node names its own router ID and one session per family', () => {
  const text = demoBgpSection('lb2', { password: 'k' });
  assert.match(text, /routerId: 10\.180\.1\.17\n/);
  assert.match(text, /address: 10\.180\.1\.1, asn: 65001, holdTime: 3, families: \[ipv4\], password: "k"/);
  assert.match(text, /address: "fd00:180:1::1", asn: 65001, holdTime: 3, families: \[ipv6\]/);
});

test('the BGP topology adds lb2 and drops the static route; the default stays as it was', () => {
  const bgp = demoTopology({ lbNodes: 2, staticVipRoute: false });
  const router = bgp.hosts.find((h) => h.name === 'router')!;
  assert.deepEqual(router.routes, []);
  assert.equal(router.sysctls?.['net.ipv4.fib_multipath_hash_policy'], '1');
  assert.ok(bgp.segments.find((s) => s.name === 'dc')!.members.some((m) => m.host === 'lb2' && m.addresses?.includes('10.180.1.17/24')));
  const plain = demoTopology();
  assert.equal(plain.hosts.some((h) => h.name === 'lb2'), false);
  assert.equal(plain.hosts.find((h) => h.name === 'router')!.routes!.length, 2);
});

test('birdc output is read into states and next hops per prefix', () => {
  const protocols = `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     04:41:04.981  
lb1v4      BGP        ---        up     04:41:07.776  Established   
lb1v6      BGP        ---        start  04:43:20.757  Idle          BGP Error: Hold timer expired
lb2v4      BGP        ---        start  04:44:35.815  Active        Socket: Connection refused
`;
  assert.deepEqual(Object.fromEntries(parseBirdProtocols(protocols)), { lb1v4: 'Established', lb1v6: 'Idle', lb2v4: 'Active' });
  const routes = `BIRD 2.0.12 ready.
Table master4:
10.200.0.3/32        unicast [lb1v4 04:41:07.865] * (100) [AS65002i]
\tvia 10.180.1.16 on dc
                     unicast [lb2v4 04:41:07.488] (100) [AS65002i]
\tvia 10.180.1.17 on dc
10.200.0.5/32        unicast [lb2v4 04:41:07.865] * (100) [AS65002i]
\tvia 10.180.1.17 on dc

Table master6:
fd00:200::2/128      unicast [lb1v6 04:41:07.865] * (100) [AS65002i]
\tvia fd00:180:1::16 on dc
`;
  assert.deepEqual(Object.fromEntries(parseBirdRoutes(routes)), {
    '10.200.0.3/32': ['10.180.1.16', '10.180.1.17'],
    '10.200.0.5/32': ['10.180.1.17'],
    'fd00:200::2/128': ['fd00:180:1::16'],
  });
});

test('ip route output is read into next hops per prefix, ECMP and single', () => {
  const v4 = `10.200.0.2 metric 32 
\tnexthop via 10.180.1.16 dev dc weight 1 
\tnexthop via 10.180.1.17 dev dc weight 1 
10.200.0.5 via 10.180.1.17 dev dc metric 32 
10.201.0.0/16 via 10.180.1.16 dev dc metric 32 
`;
  assert.deepEqual(Object.fromEntries(parseKernelRoutes(v4, 4)), {
    '10.200.0.2/32': ['10.180.1.16', '10.180.1.17'],
    '10.200.0.5/32': ['10.180.1.17'],
    '10.201.0.0/16': ['10.180.1.16'],
  });
  const v6 = `fd00:200::2 metric 32 pref medium
\tnexthop via fd00:180:1::16 dev dc weight 1 
\tnexthop via fd00:180:1::17 dev dc weight 1 
`;
  assert.deepEqual(Object.fromEntries(parseKernelRoutes(v6, 6)), { 'fd00:200::2/128': ['fd00:180:1::16', 'fd00:180:1::17'] });
});

test('the failover gap runs from the event to the first request after which all were good', () => {
  const s = (t: number, ok: boolean, via = 'lb2'): FlowSample => ({ t, ms: 1, ok, via });
  const samples = [s(0, true, 'lb1'), s(90, true, 'lb1'), s(100, false), s(150, true), s(300, false), s(2400, true), s(2500, true)];
  assert.deepEqual(failoverGap(samples, 100, (x) => x.ok && x.via === 'lb2'), { gapMs: 2300, bad: 2, total: 5 });
  // Never settled: the last request was bad.
  assert.equal(failoverGap([...samples, s(2600, false)], 100, (x) => x.ok).gapMs, undefined);
  // Nothing bad after the event: settled at once.
  assert.deepEqual(failoverGap(samples, 2400, (x) => x.ok), { gapMs: 0, bad: 0, total: 2 });
});
