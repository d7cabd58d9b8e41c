// BGPPeer / BGPAdvertisement objects → the BgpConfig the file's `bgp:` section gives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BgpConfig } from '../config/index.ts';
import type { KubeCustomObject, KubeNode } from '../kube/index.ts';
import { bgpFromCluster, secretLookup, type ClusterBgpInput } from './kubernetes-bgp.ts';

const lb1: KubeNode = {
  metadata: { name: 'lb1', labels: { 'node-role.kubernetes.io/lb': '', zone: 'a' } },
  status: { addresses: [{ type: 'InternalIP', address: 'fd00:180:1::16' }, { type: 'InternalIP', address: '10.180.1.16' }] },
};
const obj = (name: string, spec: Record<string, unknown>): KubeCustomObject => ({ metadata: { name }, spec });
const core1 = obj('core1', { address: '10.180.1.1', asn: 65000, localASN: 65001 });
const everything = obj('default', {});
const noSecrets = secretLookup([], 'vipgate-system');

function fromCluster(more: Partial<ClusterBgpInput>): ReturnType<typeof bgpFromCluster> {
  return bgpFromCluster({ nodeName: 'lb1', node: lb1, peers: [core1], advertisements: [everything], secret: noSecrets, ...more });
}

test('a BGPPeer and an empty BGPAdvertisement give the file\'s shape, defaults filled, the Node\'s IPv4 as router ID', () => {
  const { bgp, problems } = fromCluster({});
  assert.deepEqual(problems, []);
  assert.deepEqual(bgp, {
    routerId: '10.180.1.16', localASN: 65001, gracefulRestartSeconds: 120,
    peers: [{ name: 'core1', address: '10.180.1.1', asn: 65000, port: 179, holdTime: 90, passive: false, families: ['ipv4', 'ipv6'] }],
    advertisements: [{ pools: [], peers: [], aggregationLength: 32, aggregationLengthV6: 128, aggregateToVipRoutes: false, communities: [], largeCommunities: [] }],
  } satisfies BgpConfig);
});

test('every field maps across: bfd, multihop, nextHop, password from the Secret, routerID, advertisement attributes', () => {
  const peer = obj('edge', {
    address: 'FD00:180:1::1', asn: 64512, localASN: 65001, port: 1179, localAddress: 'fd00:180:1::16', routerID: '192.0.2.1', holdTimeSeconds: 9,
    passive: true, families: ['ipv6'], gracefulRestartSeconds: 300, passwordSecretRef: { name: 'bgp', key: 'edge' }, multihop: 4,
    nextHop: { ipv4: '10.180.1.16', ipv6: 'fd00:180:1::16' }, nodeSelector: { matchLabels: { zone: 'a' } },
  });
  const withBfd = obj('tor', { address: '10.180.1.2', asn: 65000, localASN: 65001, bfd: { enabled: true, transmitIntervalMs: 100, receiveIntervalMs: 200, detectMultiplier: 5 } });
  const ad = obj('gold', { pools: ['gold'], peers: ['edge'], aggregationLength: 24, aggregationLengthV6: 64, aggregateToVipRoutes: true, communities: ['65001:100'], largeCommunities: ['65001:1:2'], localPref: 200, med: 10 });
  const secrets = secretLookup([{ metadata: { name: 'bgp' }, data: { edge: Buffer.from('s3cret').toString('base64') } }], 'vipgate-system');
  const { bgp, problems } = fromCluster({ peers: [withBfd, peer], advertisements: [ad], secret: secrets });
  assert.deepEqual(problems, []);
  assert.equal(bgp?.routerId, '192.0.2.1');
  assert.equal(bgp.gracefulRestartSeconds, 300, 'the longest restart time of the peers');
  assert.deepEqual(bgp.peers, [
    { name: 'edge', address: 'fd00:180:1::1', asn: 64512, port: 1179, localAddress: 'fd00:180:1::16', holdTime: 9, passive: true, password: 's3cret', families: ['ipv6'], multihop: 4, nextHop: { ipv4: '10.180.1.16', ipv6: 'fd00:180:1::16' } },
    { name: 'tor', address: '10.180.1.2', asn: 65000, port: 179, holdTime: 90, passive: false, families: ['ipv4', 'ipv6'], bfd: { minTxMs: 100, minRxMs: 200, multiplier: 5 } },
  ]);
  assert.deepEqual(bgp.advertisements, [{ pools: ['gold'], peers: ['edge'], aggregationLength: 24, aggregationLengthV6: 64, aggregateToVipRoutes: true, communities: ['65001:100'], largeCommunities: ['65001:1:2'], localPref: 200, med: 10 }]);
});

test('node selectors decide which LB nodes peer and announce', () => {
  const other = obj('zone-b', { address: '10.180.2.1', asn: 65000, localASN: 65001, nodeSelector: { matchLabels: { zone: 'b' } } });
  const adB = obj('b-only', { communities: ['1:1'], nodeSelector: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] } });
  const { bgp } = fromCluster({ peers: [core1, other], advertisements: [everything, adB] });
  assert.deepEqual(bgp?.peers.map((p) => p.name), ['core1']);
  assert.deepEqual(bgp.advertisements.map((a) => a.communities), [[]]);
  const none = fromCluster({ peers: [other] });
  assert.equal(none.bgp, undefined, 'no peer selects the node: no BGP at all');
  // Outside the cluster (no Node): only objects without a selector apply.
  assert.deepEqual(fromCluster({ node: undefined, peers: [core1, other] }).bgp, undefined, 'no Node and no routerID: BGP stays off');
});

test('a bad object is left out with a problem naming it and its field; the others keep working', () => {
  const bad = [
    obj('a-hold', { address: '10.0.0.1', asn: 65000, localASN: 65001, holdTimeSeconds: 2 }),
    obj('b-addr', { address: '10.0.0.300', asn: 65000, localASN: 65001 }),
    obj('c-trans', { address: '10.0.0.3', asn: 23456, localASN: 65001 }),
    obj('d-ibgp-multihop', { address: '10.0.0.4', asn: 65001, localASN: 65001, multihop: 3 }),
    obj('e-secret', { address: '10.0.0.5', asn: 65000, localASN: 65001, passwordSecretRef: { name: 'nope' } }),
    obj('f-unknown', { address: '10.0.0.6', asn: 65000, localASN: 65001, holdTime: 9 }),
    obj('g-selector', { address: '10.0.0.7', asn: 65000, localASN: 65001, nodeSelector: { matchExpressions: [{ key: 'zone', operator: 'Is' }] } }),
    obj('h-other-as', { address: '10.0.0.8', asn: 65000, localASN: 65999 }),
    obj('i-missing', { asn: 65000, localASN: 65001 }),
  ];
  const badAd = obj('x-community', { communities: ['65001:70000'] });
  const { bgp, problems } = fromCluster({ peers: [core1, ...bad], advertisements: [everything, badAd] });
  assert.deepEqual(bgp?.peers.map((p) => p.name), ['core1']);
  assert.equal(bgp.advertisements.length, 1);
  const byObject = Object.fromEntries(problems.map((p): [string, string] => [p.object, p.message]));
  assert.deepEqual(Object.keys(byObject).sort(), [...bad.map((b) => `BGPPeer ${b.metadata?.name ?? ''}`), 'BGPAdvertisement x-community'].sort());
  assert.match(byObject['BGPPeer a-hold']!, /spec\.holdTimeSeconds is 2; allowed: 0, or 3–65535 \(RFC 4271 §4\.2\); this peer is left out/);
  assert.match(byObject['BGPPeer b-addr']!, /spec\.address is "10\.0\.0\.300"; allowed: an IP address/);
  assert.match(byObject['BGPPeer c-trans']!, /spec\.asn is 23456; allowed: .*AS_TRANS/);
  assert.match(byObject['BGPPeer d-ibgp-multihop']!, /spec\.multihop applies to eBGP peers only/);
  assert.match(byObject['BGPPeer e-secret']!, /spec\.passwordSecretRef: Secret vipgate-system\/nope does not exist/);
  assert.match(byObject['BGPPeer f-unknown']!, /spec\.holdTime is not a BGPPeer field; allowed: .*holdTimeSeconds/);
  assert.match(byObject['BGPPeer g-selector']!, /spec\.nodeSelector .*not one of In, NotIn, Exists, DoesNotExist/);
  assert.match(byObject['BGPPeer h-other-as']!, /spec\.localASN 65999 differs from 65001 \(set by BGPPeer core1\); one agent speaks for one AS/);
  assert.match(byObject['BGPPeer i-missing']!, /spec\.address is required/);
  assert.match(byObject['BGPAdvertisement x-community']!, /spec\.communities .*each part 0–65535/);
});

test('with a file: it gives routerId, localASN and restart time, keeps its peers, and its advertisements unless a BGPAdvertisement applies', () => {
  const file: BgpConfig = {
    routerId: '10.180.1.16', localASN: 65001, gracefulRestartSeconds: 60,
    peers: [{ address: '10.180.1.1', asn: 65000, port: 179, holdTime: 90, passive: false, families: ['ipv4'] }],
    advertisements: [{ pools: [], peers: [], aggregationLength: 32, aggregationLengthV6: 128, aggregateToVipRoutes: true, communities: [], largeCommunities: [] }],
  };
  const extra = obj('core2', { address: '10.180.1.2', asn: 65000, localASN: 65001, routerID: '192.0.2.9', gracefulRestartSeconds: 999 });
  const { bgp, problems } = fromCluster({ file, peers: [core1, extra], advertisements: [] });
  assert.deepEqual({ routerId: bgp?.routerId, localASN: bgp?.localASN, gr: bgp?.gracefulRestartSeconds }, { routerId: '10.180.1.16', localASN: 65001, gr: 60 });
  assert.deepEqual(bgp?.peers.map((p) => p.address), ['10.180.1.1', '10.180.1.2']);
  assert.deepEqual(bgp.advertisements, file.advertisements);
  assert.deepEqual(problems.map((p) => p.object), ['BGPPeer core1', 'BGPPeer core2']);
  assert.match(problems[0]!.message, /10\.180\.1\.1 is already a peer in the file, which wins/);
  assert.match(problems[1]!.message, /spec\.routerID 192\.0\.2\.9 is ignored: this agent's router ID is 10\.180\.1\.16/);
  assert.deepEqual(fromCluster({ file, peers: [], advertisements: [obj('a', { med: 5 })] }).bgp?.advertisements.map((a) => a.med), [5]);
});

test('peers but no BGPAdvertisement: sessions without announcements, and a problem that says how to fix it', () => {
  const { bgp, problems } = fromCluster({ advertisements: [] });
  assert.deepEqual(bgp?.advertisements, []);
  assert.deepEqual(problems.map((p) => p.object), ['Node lb1']);
  assert.match(problems[0]!.message, /no BGPAdvertisement selects this node: .*no VIP is announced; create one/);
});
