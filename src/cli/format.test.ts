import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBgpPeers, formatBgpRoutes, formatRoutes, formatServiceList, formatStatus } from './format.ts';

test('service list shows one row per frontend with every backend and the counters', () => {
  const text = formatServiceList({
    engine: 'nftables',
    services: [
      {
        id: 6, frontend: '10.200.0.5:80/tcp', service: 'default/nginx', type: 'ExternalIPs', address: '10.200.0.5', port: 80,
        protocol: 'tcp', sessionAffinity: 'None', packets: '12', bytes: '960',
        backends: [
          { address: '10.100.1.41', port: 80, weight: 1, state: 'ready' },
          { address: '10.100.1.42', port: 80, weight: 1, state: 'terminating' },
        ],
      },
      {
        id: 8, frontend: '[fd00:200::1]:80/tcp', service: 'default/web', type: 'LoadBalancer', address: 'fd00:200::1', port: 80,
        protocol: 'tcp', sessionAffinity: 'None', packets: '0', bytes: '0', backends: [],
      },
    ],
    problems: [{ service: 'default/bad', code: 'EXTERNAL_IP_REJECTED', message: '10.9.9.9 is in no pool' }],
    leftOut: [{ object: 'Service shop/cart', message: 'no nodePort on port 80/TCP: nodes are the backends (kubernetes.backends: nodePort)' }],
  });
  const lines = text.split('\n');
  assert.match(lines[0]!, /^ID\s+FRONTEND\s+SERVICE\s+TYPE\s+BACKENDS\s+PACKETS\s+BYTES$/);
  assert.match(lines[1]!, /^6\s+10\.200\.0\.5:80\/TCP\s+default\/nginx\s+ExternalIPs\s+1 => 10\.100\.1\.41:80\s+12\s+960$/);
  assert.match(lines[2]!, /^\s+2 => 10\.100\.1\.42:80 \(terminating\)$/);
  assert.match(lines[3]!, /^8\s+\[fd00:200::1\]:80\/TCP .*\(none: new connections dropped\)\s+0\s+0$/);
  assert.match(text, /default\/bad: EXTERNAL_IP_REJECTED: 10\.9\.9\.9 is in no pool/);
  assert.match(text, /Left out by the source \(fix the object\):\n {2}Service shop\/cart: no nodePort on port 80\/TCP/);
});

test('status says what is served, how the last pass went, and every problem by kind', () => {
  const text = formatStatus({
    engine: 'nftables',
    announcer: 'bgp',
    frontends: 3,
    problems: [{ service: 'default/bad', code: 'ALLOCATION_FAILED', message: 'pool default is exhausted' }],
    leftOut: [{ object: 'BGPPeer tor2', message: 'spec.peerASN "x" is not an integer; this peer is left out' }],
    advertisements: ['10.200.0.5/32', '10.200.0.6/32'],
    vipInterface: { name: 'cilium_ext', kind: 'bridge' },
    lastPass: {
      at: '2026-11-26T09:00:00.000Z', durationMs: 12.34, ok: false, errors: ['bgp: peer 10.0.0.1 refused'],
      phases: { desired: 1, host: 0, dataplane: 10, announcer: 1, bookkeeping: 0.3 },
    },
    configError: '/etc/vipgate/config.yaml:3:5: pools[0].cidr: "10.200.0.0/33" is not a CIDR',
  });
  assert.match(text, /^engine: +nftables$/m);
  assert.match(text, /^frontends: +3 served, 2 VIPs advertised$/m);
  assert.match(text, /^VIP interface: cilium_ext \(bridge\)$/m);
  assert.match(text, /^last pass: +FAILED at 2026-11-26T09:00:00\.000Z, 12\.3 ms \(desired 1\.0, host 0\.0, dataplane 10\.0, announcer 1\.0\)$/m);
  assert.match(text, /^ {2}error: bgp: peer 10\.0\.0\.1 refused$/m);
  assert.match(text, /Config refused \(the last good one keeps serving\):\n {2}\/etc\/vipgate\/config\.yaml:3:5/);
  assert.match(text, /Not served \(fix the Service or the pools\):\n {2}default\/bad: ALLOCATION_FAILED: pool default is exhausted/);
  assert.match(text, /Left out by the source \(fix the object\):\n {2}BGPPeer tor2: spec\.peerASN/);
});

test('routes names the LB node address of the right family', () => {
  assert.equal(
    formatRoutes(['10.200.0.0/16', 'fd00:200::/64'], ['10.180.1.16', 'fd00:180:1::16']),
    'ip route add 10.200.0.0/16 via 10.180.1.16\nip -6 route add fd00:200::/64 via fd00:180:1::16\n',
  );
});

test('bgp peers and routes read like a router CLI', () => {
  const peers = formatBgpPeers([
    { address: '10.180.1.1', asn: 65001, state: 'Established', uptimeSeconds: 75, prefixesSent: 3, prefixesReceived: 0, updatesSent: 2, updatesReceived: 1, bfdState: 'Up', flaps: 2 },
    { address: 'fd00:180:1::1', asn: 65001, state: 'Active', prefixesSent: 0, prefixesReceived: 0, updatesSent: 0, updatesReceived: 0, lastError: 'connect ECONNREFUSED', flaps: 0 },
  ]);
  assert.match(peers, /^PEER\s+ASN\s+STATE\s+UPTIME\s+BFD\s+FLAPS\s+SENT\s+RECEIVED\s+LAST ERROR$/m);
  assert.match(peers, /^10\.180\.1\.1\s+65001\s+Established\s+1m15s\s+Up\s+2\s+3\s+0$/m);
  assert.match(peers, /^fd00:180:1::1\s+65001\s+Active\s+-\s+-\s+0\s+0\s+0\s+connect ECONNREFUSED$/m);
  assert.equal(
    formatBgpRoutes({
      peers: [{
        address: '10.180.1.1', state: 'Established', routes: [
          { prefix: '10.200.0.0/24', nextHops: ['10.180.1.16'], localPref: 200, med: 10, communities: ['65002:777'], largeCommunities: ['65002:1:2'] },
          { prefix: '10.200.0.5/32', nextHops: ['10.180.1.16'], communities: [], largeCommunities: [] },
        ],
      }],
    }),
    '10.180.1.1 (Established): 2 prefixes\n' +
      '  10.200.0.0/24 via 10.180.1.16 local-pref 200 med 10 communities 65002:777 large 65002:1:2\n' +
      '  10.200.0.5/32 via 10.180.1.16\n',
  );
});
