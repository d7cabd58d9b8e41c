import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { PeerStatus } from '../bgp/index.ts';
import { registerBgpMetrics } from './metrics.ts';

test('BGP metrics: flaps and updates as counters per peer, BFD up only for peers that run BFD', async () => {
  const registry = new Registry();
  let peers: PeerStatus[] = [
    { address: '10.180.1.1', asn: 65001, state: 'Established', prefixesSent: 3, prefixesReceived: 0, updatesSent: 4, updatesReceived: 1, bfdState: 'Up', flaps: 2 },
    { address: '10.180.2.1', asn: 65001, state: 'Active', prefixesSent: 0, prefixesReceived: 0, updatesSent: 0, updatesReceived: 0, flaps: 0 },
  ];
  registerBgpMetrics(registry, () => peers);
  const text = await registry.metrics();
  assert.match(text, /# TYPE vipgate_bgp_session_flaps_total counter/);
  assert.match(text, /^vipgate_bgp_session_flaps_total\{peer="10\.180\.1\.1"\} 2$/m);
  assert.match(text, /^vipgate_bgp_session_flaps_total\{peer="10\.180\.2\.1"\} 0$/m);
  assert.match(text, /^vipgate_bgp_updates_sent_total\{peer="10\.180\.1\.1"\} 4$/m);
  assert.match(text, /^vipgate_bgp_updates_received_total\{peer="10\.180\.1\.1"\} 1$/m);
  assert.match(text, /^vipgate_bgp_bfd_up\{peer="10\.180\.1\.1"\} 1$/m);
  assert.doesNotMatch(text, /vipgate_bgp_bfd_up\{peer="10\.180\.2\.1"\}/);
  // A scrape reads the speaker again: a new flap shows, BFD going Down shows as 0.
  peers = [{ ...peers[0]!, flaps: 3, bfdState: 'Down' }];
  const next = await registry.metrics();
  assert.match(next, /^vipgate_bgp_session_flaps_total\{peer="10\.180\.1\.1"\} 3$/m);
  assert.match(next, /^vipgate_bgp_bfd_up\{peer="10\.180\.1\.1"\} 0$/m);
  assert.doesNotMatch(next, /10\.180\.2\.1/);
});

test('BGP metrics: connections the listeners closed at once, by reason, as the speaker counts them', async () => {
  const registry = new Registry();
  let rejected = new Map<string, number>();
  registerBgpMetrics(registry, () => [], () => rejected);
  assert.doesNotMatch(await registry.metrics(), /^vipgate_bgp_connections_rejected_total\{/m, 'no series before any rejection');
  rejected = new Map([['unconfigured-peer', 2]]);
  assert.match(await registry.metrics(), /^vipgate_bgp_connections_rejected_total\{reason="unconfigured-peer"\} 2$/m);
});
