// The export policy while the node drains (docs/design/013-drain.md): what each router is told.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAdvertisements, routesForPeer } from '../bgp/advertisement.ts';
import type { BgpAdvertisementConfig, BgpConfig, BgpPeerConfig } from '../config/index.ts';
import { parseCidr, parseIp } from '../net/index.ts';
import { exportPolicy, GRACEFUL_SHUTDOWN, poolLookup } from './bgp-announcer-policy.ts';

const everything: BgpAdvertisementConfig = { pools: [], peers: [], aggregationLength: 32, aggregationLengthV6: 128, aggregateToVipRoutes: false, communities: ['65002:7'], largeCommunities: [], med: 10 };
const peer = (address: string, asn: number, drain?: BgpPeerConfig['drain']): BgpPeerConfig => ({
  address, asn, port: 179, holdTime: 90, passive: false, families: ['ipv4'], ...(drain === undefined ? {} : { drain }),
});
const ibgp = peer('10.180.1.1', 65002);
const ebgp = peer('10.180.2.1', 65001);
const ebgpMed = peer('10.180.3.1', 65001, { asPathPrepend: 0, med: 500 });
const config = (drain?: BgpConfig['drain']): BgpConfig => ({
  routerId: '10.180.1.16', localASN: 65002, gracefulRestartSeconds: 120, peers: [ibgp, ebgp, ebgpMed], advertisements: [everything], ...(drain === undefined ? {} : { drain }),
});
const inputs = { poolOf: poolLookup([]), vipRoutes: [] };
const vips = ['10.200.0.5/32', '10.200.0.6/32'];

/** What one peer receives on the wire: its AS_PATH, LOCAL_PREF, MED and communities. */
function onTheWire(ads: ReturnType<typeof exportPolicy>, p: BgpPeerConfig): { asPath: number[]; localPref?: number; med?: number; communities?: readonly number[] }[] {
  const view = { localAsn: 65002, peerAsn: p.asn, families: ['ipv4'] as const, defaultNextHop: { ipv4: parseIp('10.10.12.2') } };
  return routesForPeer(parseAdvertisements(ads.get(p.address) ?? []), view).routes.map((r) => ({
    asPath: (r.attributes.asPath ?? []).flatMap((s) => s.asns),
    ...(r.attributes.localPref === undefined ? {} : { localPref: r.attributes.localPref }),
    ...(r.attributes.multiExitDisc === undefined ? {} : { med: r.attributes.multiExitDisc }),
    ...(r.attributes.communities === undefined ? {} : { communities: r.attributes.communities }),
  }));
}

const GSHUT = 0xffff0000;
const OURS = 65002 * 65536 + 7;

test('not draining: the routes as the advertisements say', () => {
  const out = exportPolicy(vips, config(), inputs);
  assert.deepEqual(onTheWire(out, ibgp)[0], { asPath: [], localPref: 100, med: 10, communities: [OURS] });
  assert.deepEqual(onTheWire(out, ebgp)[0], { asPath: [65002], med: 10, communities: [OURS] });
});

test('draining with the defaults: GRACEFUL_SHUTDOWN on every route, LOCAL_PREF 0 to iBGP, three extra AS hops to eBGP', () => {
  assert.equal(GRACEFUL_SHUTDOWN, '65535:0');
  const out = exportPolicy(vips, config(), { ...inputs, drain: 'graceful-shutdown' });
  for (const route of onTheWire(out, ibgp)) assert.deepEqual(route, { asPath: [], localPref: 0, med: 10, communities: [OURS, GSHUT] });
  for (const route of onTheWire(out, ebgp)) assert.deepEqual(route, { asPath: [65002, 65002, 65002, 65002], med: 10, communities: [OURS, GSHUT] });
  assert.equal(onTheWire(out, ebgp).length, 2, 'every route is announced again, none withdrawn');
});

test("a peer's own drain settings win over bgp.drain, field by field", () => {
  const out = exportPolicy(vips, config({ localPref: 20, asPathPrepend: 2, timeoutSeconds: 30, quietSeconds: 2 }), { ...inputs, drain: 'graceful-shutdown' });
  assert.deepEqual(onTheWire(out, ibgp)[0], { asPath: [], localPref: 20, med: 10, communities: [OURS, GSHUT] });
  assert.deepEqual(onTheWire(out, ebgp)[0]?.asPath, [65002, 65002, 65002]);
  assert.deepEqual(onTheWire(out, ebgpMed)[0], { asPath: [65002], med: 500, communities: [OURS, GSHUT] });
});

test('drained: every peer is told nothing (the routes are withdrawn)', () => {
  const out = exportPolicy(vips, config(), { ...inputs, drain: 'withdrawn' });
  assert.deepEqual([...out.values()].map((routes) => routes.length), [0, 0, 0]);
  assert.deepEqual([...out.keys()].sort(), [ebgp.address, ibgp.address, ebgpMed.address].sort(), 'every configured peer gets its (empty) set');
});

test('a bad prepend count is refused by the speaker, naming the entry', () => {
  assert.throws(() => parseAdvertisements([{ prefix: parseCidr('10.200.0.5/32'), asPathPrepend: 300 }]), /advertisement 0: asPathPrepend 300/);
});
