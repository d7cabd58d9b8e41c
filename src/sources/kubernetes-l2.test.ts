// L2Advertisement objects and the Nodes they select → the L2Config the file's `l2:` section gives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_L2_ANNOUNCE, DEFAULT_L2_BFD, DEFAULT_L2_FAILBACK_HOLD_DOWN_SECONDS, type L2Config } from '../config/index.ts';
import type { KubeCustomObject, KubeLbNodeConfig, KubeNode } from '../kube/index.ts';
import { l2FromCluster, type ClusterL2Input } from './kubernetes-l2.ts';

const node = (name: string, labels: Record<string, string>, addresses: string[]): KubeNode => ({
  metadata: { name, labels },
  status: { addresses: [...addresses.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: name }] },
});
const lb = { 'node-role.kubernetes.io/lb': '' };
const lb1 = node('lb1', { ...lb, zone: 'a' }, ['10.180.1.16', 'FD00:180:1::16']);
const lb2 = node('lb2', { ...lb, zone: 'a' }, ['10.180.1.17']);
const lb3 = node('lb3', { ...lb, zone: 'b' }, ['10.180.2.18']);
const worker = node('w1', { zone: 'a' }, ['10.180.1.50']);
const obj = (name: string, spec: Record<string, unknown>): KubeCustomObject => ({ metadata: { name }, spec });
const lbNodes: KubeLbNodeConfig = { metadata: { name: 'lb' }, spec: { nodeSelector: { matchExpressions: [{ key: 'node-role.kubernetes.io/lb', operator: 'Exists' }] }, vipInterface: { name: 'vip0' } } };
const lan = obj('lan', { interfaces: ['eth0'] });
const zoneA = { matchLabels: { zone: 'a' } };

function fromCluster(more: Partial<ClusterL2Input>): ReturnType<typeof l2FromCluster> {
  return l2FromCluster({ nodeName: 'lb1', node: lb1, nodes: [lb1, lb2, lb3, worker], advertisements: [lan], lbNodeConfigs: [lbNodes], ...more });
}

test('an L2Advertisement with only interfaces: every VIP on them, the other LB nodes as peers by InternalIP, defaults filled', () => {
  const { l2, problems } = fromCluster({});
  assert.deepEqual(problems, []);
  assert.deepEqual(l2, {
    advertisements: [{ pools: [], interfaces: ['eth0'] }],
    peers: [{ name: 'lb2', addresses: ['10.180.1.17'] }, { name: 'lb3', addresses: ['10.180.2.18'] }],
    announce: DEFAULT_L2_ANNOUNCE,
    failbackHoldDownSeconds: DEFAULT_L2_FAILBACK_HOLD_DOWN_SECONDS,
    bfd: DEFAULT_L2_BFD,
  } satisfies L2Config);
  assert.ok(!l2.peers.some((p) => p.name === 'w1'), 'a worker no LBNodeConfig selects runs no agent: never a peer');
});

test('every field maps across; addresses are canonical, both families kept', () => {
  const full = obj('full', {
    pools: ['gold', 'silver'], interfaces: ['eth0', 'bond0.100'], announce: { count: 5, intervalMs: 100, periodicSeconds: 30 },
    failbackHoldDownSeconds: 0, bfd: { minTxMs: 50, minRxMs: 60, multiplier: 4 }, nodeSelector: zoneA,
  });
  const { l2, problems } = fromCluster({ advertisements: [full], node: lb2, nodeName: 'lb2' });
  assert.deepEqual(problems, []);
  assert.deepEqual(l2, {
    advertisements: [{ pools: ['gold', 'silver'], interfaces: ['eth0', 'bond0.100'] }],
    peers: [{ name: 'lb1', addresses: ['10.180.1.16', 'fd00:180:1::16'] }],
    announce: { count: 5, intervalMs: 100, periodicSeconds: 30 },
    failbackHoldDownSeconds: 0,
    bfd: { minTxMs: 50, minRxMs: 60, multiplier: 4 },
  } satisfies L2Config);
});

test('selection: only advertisements selecting this node apply; peers are the nodes those select', () => {
  const a = obj('a', { interfaces: ['eth0'], pools: ['a'], nodeSelector: zoneA });
  const b = obj('b', { interfaces: ['eth1'], pools: ['b'], nodeSelector: { matchLabels: { zone: 'b' } } });
  const inA = fromCluster({ advertisements: [b, a] });
  assert.deepEqual(inA.l2?.advertisements, [{ pools: ['a'], interfaces: ['eth0'] }]);
  assert.deepEqual(inA.l2.peers.map((p) => p.name), ['lb2'], 'lb3 is selected only by b, which does not select lb1');
  const inB = fromCluster({ advertisements: [a, b], node: lb3, nodeName: 'lb3' });
  assert.deepEqual(inB.l2?.advertisements.map((x) => x.pools), [['b']]);
  assert.deepEqual(inB.l2.peers, [], 'alone in its segment: it owns every VIP it can serve');
  // A node no advertisement selects has L2 off; outside the cluster only selector-less ones apply.
  assert.equal(fromCluster({ advertisements: [b] }).l2, undefined);
  assert.equal(fromCluster({ advertisements: [] }).l2, undefined);
  assert.equal(fromCluster({ node: undefined, advertisements: [a] }).l2, undefined);
  assert.deepEqual(fromCluster({ node: undefined, advertisements: [a, lan] }).l2?.advertisements.map((x) => x.interfaces), [['eth0']]);
});

test('several advertisements: the strictest timing applies, and each overruled object names the one that won', () => {
  const fast = obj('a-fast', { interfaces: ['eth0'], bfd: { minTxMs: 50, multiplier: 5 }, announce: { count: 2, periodicSeconds: 0 } });
  const slow = obj('b-slow', { interfaces: ['eth1'], bfd: { minTxMs: 300, minRxMs: 200, multiplier: 2 }, announce: { count: 6, intervalMs: 500, periodicSeconds: 60 }, failbackHoldDownSeconds: 30 });
  const quiet = obj('c-quiet', { interfaces: ['eth2'], failbackHoldDownSeconds: 5 });
  const { l2, problems } = fromCluster({ advertisements: [quiet, slow, fast] });
  assert.deepEqual(l2?.advertisements.map((a) => a.interfaces), [['eth0'], ['eth1'], ['eth2']], 'in name order');
  assert.deepEqual(l2.bfd, { minTxMs: 50, minRxMs: 200, multiplier: 2 }, 'the smallest of each; minRxMs only b-slow sets');
  assert.deepEqual(l2.announce, { count: 6, intervalMs: 500, periodicSeconds: 60 }, 'the most, and periodic wins over 0 (never)');
  assert.equal(l2.failbackHoldDownSeconds, 30, 'the longest hold-down');
  assert.deepEqual(problems.map((p) => `${p.object}: ${p.message}`), [
    'L2Advertisement a-fast: spec.announce.count 2 differs from 6 in L2Advertisement b-slow, which also selects Node lb1; 6 (the most) applies on this node',
    'L2Advertisement a-fast: spec.announce.periodicSeconds 0 differs from 60 in L2Advertisement b-slow, which also selects Node lb1; 60 (the shortest other than 0 (never)) applies on this node',
    'L2Advertisement c-quiet: spec.failbackHoldDownSeconds 5 differs from 30 in L2Advertisement b-slow, which also selects Node lb1; 30 (the longest) applies on this node',
    'L2Advertisement b-slow: spec.bfd.minTxMs 300 differs from 50 in L2Advertisement a-fast, which also selects Node lb1; 50 (the smallest) applies on this node',
    'L2Advertisement a-fast: spec.bfd.multiplier 5 differs from 2 in L2Advertisement b-slow, which also selects Node lb1; 2 (the smallest) applies on this node',
  ]);
});

test('merging is order-free: any order of the same advertisements gives the same settings', () => {
  const ads = [
    obj('a', { interfaces: ['eth0'], bfd: { minTxMs: 70 }, failbackHoldDownSeconds: 3 }),
    obj('b', { interfaces: ['eth0'], announce: { intervalMs: 40, periodicSeconds: 10 } }),
    obj('c', { interfaces: ['eth1'], bfd: { minTxMs: 90, multiplier: 7 }, announce: { periodicSeconds: 5 } }),
  ];
  const expected = fromCluster({ advertisements: ads });
  fc.assert(fc.property(fc.shuffledSubarray(ads, { minLength: 3, maxLength: 3 }), (order) => {
    const got = fromCluster({ advertisements: order });
    assert.deepEqual(got.l2, expected.l2);
    assert.deepEqual(new Set(got.problems.map((p) => p.message)), new Set(expected.problems.map((p) => p.message)));
  }));
});

test('a bad object is left out with a problem naming it and its field; the others keep working', () => {
  const bad = [
    obj('a-no-interfaces', { pools: ['gold'] }),
    obj('b-long-name', { interfaces: ['a-very-long-ifname'] }),
    obj('c-dotdot', { interfaces: ['..'] }),
    obj('d-count', { interfaces: ['eth0'], announce: { count: 11 } }),
    obj('e-bfd', { interfaces: ['eth0'], bfd: { minRxMs: 5 } }),
    obj('f-unknown', { interfaces: ['eth0'], holdDown: 3 }),
    obj('g-selector', { interfaces: ['eth0'], nodeSelector: { matchExpressions: [{ key: 'zone', operator: 'Is' }] } }),
    obj('h-pool', { interfaces: ['eth0'], pools: ['Gold'] }),
    obj('i-announce-field', { interfaces: ['eth0'], announce: { every: 3 } }),
    obj('j-hold', { interfaces: ['eth0'], failbackHoldDownSeconds: -1 }),
  ];
  const { l2, problems } = fromCluster({ advertisements: [lan, ...bad] });
  assert.deepEqual(l2?.advertisements, [{ pools: [], interfaces: ['eth0'] }]);
  assert.deepEqual(l2.bfd, DEFAULT_L2_BFD);
  const byObject = Object.fromEntries(problems.map((p): [string, string] => [p.object, p.message]));
  assert.deepEqual(Object.keys(byObject).sort(), bad.map((b) => `L2Advertisement ${b.metadata?.name ?? ''}`).sort());
  for (const message of Object.values(byObject)) assert.match(message, /; this advertisement is left out$/);
  assert.match(byObject['L2Advertisement a-no-interfaces']!, /spec\.interfaces is required/);
  assert.match(byObject['L2Advertisement b-long-name']!, /spec\.interfaces is \["a-very-long-ifname"\]; allowed: .*1–15 bytes/);
  assert.match(byObject['L2Advertisement c-dotdot']!, /spec\.interfaces is \["\.\."\]; allowed: .*not "\." or "\.\."/);
  assert.match(byObject['L2Advertisement d-count']!, /spec\.announce\.count is 11; allowed: an integer 1–10/);
  assert.match(byObject['L2Advertisement e-bfd']!, /spec\.bfd\.minRxMs is 5; allowed: an integer 10–60000/);
  assert.match(byObject['L2Advertisement f-unknown']!, /spec\.holdDown is not an L2Advertisement field; allowed: .*failbackHoldDownSeconds/);
  assert.match(byObject['L2Advertisement g-selector']!, /spec\.nodeSelector .*not one of In, NotIn, Exists, DoesNotExist/);
  assert.match(byObject['L2Advertisement h-pool']!, /spec\.pools is \["Gold"\]; allowed: a list of VIPPool names/);
  assert.match(byObject['L2Advertisement i-announce-field']!, /spec\.announce\.every is not an L2Advertisement announce field; allowed: count, intervalMs, periodicSeconds/);
  assert.match(byObject['L2Advertisement j-hold']!, /spec\.failbackHoldDownSeconds is -1; allowed: an integer 0–3600/);
});

test('a selected LB node without an InternalIP is not a peer, and a problem says why', () => {
  const bare: KubeNode = { metadata: { name: 'lb4', labels: lb }, status: { addresses: [{ type: 'ExternalIP', address: '198.51.100.4' }] } };
  const { l2, problems } = fromCluster({ nodes: [lb1, lb2, bare] });
  assert.deepEqual(l2?.peers.map((p) => p.name), ['lb2']);
  assert.deepEqual(problems.map((p) => p.object), ['Node lb4']);
  assert.match(problems[0]!.message, /has no InternalIP address, so Node lb1 cannot watch it by BFD; it is not an L2 peer until it has one/);
});
