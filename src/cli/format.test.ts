import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBgpPeers, formatBgpRoutes, formatRoutes, formatServiceList } from './format.ts';

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
  });
  const lines = text.split('\n');
  assert.match(lines[0]!, /^ID\s+FRONTEND\s+SERVICE\s+TYPE\s+BACKENDS\s+PACKETS\s+BYTES$/);
  assert.match(lines[1]!, /^6\s+10\.200\.0\.5:80\/TCP\s+default\/nginx\s+ExternalIPs\s+1 => 10\.100\.1\.41:80\s+12\s+960$/);
  assert.match(lines[2]!, /^\s+2 => 10\.100\.1\.42:80 \(terminating\)$/);
  assert.match(lines[3]!, /^8\s+\[fd00:200::1\]:80\/TCP .*\(none: new connections dropped\)\s+0\s+0$/);
  assert.match(text, /default\/bad: EXTERNAL_IP_REJECTED: 10\.9\.9\.9 is in no pool/);
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
    formatBgpRoutes({ peers: [{ address: '10.180.1.1', state: 'Established', routes: ['10.200.0.2/32', '10.200.0.5/32'] }] }),
    '10.180.1.1 (Established): 2 prefixes\n  10.200.0.2/32\n  10.200.0.5/32\n',
  );
});
