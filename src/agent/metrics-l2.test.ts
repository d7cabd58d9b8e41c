import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { L2Status, L2VipStatus } from './l2-announcer.ts';
import { registerL2Metrics } from './metrics-l2.ts';

const vip = (address: string, owner: string | undefined, answering: boolean): L2VipStatus => ({ vip: address, interface: 'eth0', owner, answering, sinceMs: 0, why: '', ranked: [] });

const status: L2Status = {
  node: 'lb1',
  eligible: true,
  why: 'eligible',
  peers: [
    { name: 'lb2', localAddress: '192.0.2.1', peerAddress: '192.0.2.2', state: 'Up', upSinceMs: 0, changedAtMs: 0, reason: undefined },
    { name: 'lb3', localAddress: '192.0.2.1', peerAddress: '192.0.2.3', state: 'AdminDown', upSinceMs: undefined, changedAtMs: 0, reason: 'stopping' },
  ],
  // lb1 owns three: answers two, cannot answer the third; lb2 owns one; one has no owner.
  vips: [vip('192.0.2.10', 'lb1', true), vip('192.0.2.11', 'lb1', true), vip('192.0.2.12', 'lb1', false), vip('192.0.2.13', 'lb2', false), vip('192.0.2.14', undefined, false)],
  counters: { answers: { arp: 7, ndp: 2 }, announcements: 3, ownershipChanges: 4, conflicts: 1 },
  failed: [{ interface: 'eth0', message: 'no such device' }],
};

async function scrape(current: L2Status | undefined): Promise<string> {
  const registry = new Registry();
  registerL2Metrics(registry, () => current);
  return registry.metrics();
}

test('the L2 gauges and counters read the status: owned, answered and unowned VIPs apart, peers by BFD state', async () => {
  const text = await scrape(status);
  for (const line of [
    'vipgate_l2_vips_owned 3',
    'vipgate_l2_vips_answered 2',
    'vipgate_l2_vips_unowned 1',
    'vipgate_l2_eligible 1',
    'vipgate_l2_peer_up{peer="lb2"} 1',
    'vipgate_l2_peer_up{peer="lb3"} 0',
    'vipgate_l2_answers_total{protocol="arp"} 7',
    'vipgate_l2_answers_total{protocol="ndp"} 2',
    'vipgate_l2_announcements_total 3',
    'vipgate_l2_ownership_changes_total 4',
    'vipgate_l2_conflicts_total 1',
  ]) {
    assert.ok(text.split('\n').includes(line), `${line} in\n${text}`);
  }
});

test('without L2 mode, no L2 series at all', async () => {
  const samples = (await scrape(undefined)).split('\n').filter((l) => l.startsWith('vipgate_l2_'));
  assert.deepEqual(samples, []);
});
