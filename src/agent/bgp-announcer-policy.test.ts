import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Advertisement } from '../bgp/index.ts';
import { formatCidr } from '../net/index.ts';
import fc from 'fast-check';
import type { BgpAdvertisementConfig, BgpConfig, BgpPeerConfig } from '../config/index.ts';
import type { Pool } from '../model/index.ts';
import { exportPolicy as parsedExportPolicy, poolLookup } from './bgp-announcer-policy.ts';

/** The policy's routes with their prefixes as text, as an operator reads them. */
function exportPolicy(...args: Parameters<typeof parsedExportPolicy>): Map<string, (Omit<Advertisement, 'prefix'> & { prefix: string })[]> {
  return new Map([...parsedExportPolicy(...args)].map(([peer, routes]) => [peer, routes.map((r) => ({ ...r, prefix: formatCidr(r.prefix) }))]));
}

function pool(name: string, addresses: string[]): Pool {
  return { name, addresses, autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: false, namespaces: [], reserved: [], priority: 0 };
}

function peer(address: string, name?: string): BgpPeerConfig {
  return { ...(name === undefined ? {} : { name }), address, asn: 65001, port: 179, holdTime: 90, passive: false, families: ['ipv4', 'ipv6'] };
}

function adv(fields: Partial<BgpAdvertisementConfig>): BgpAdvertisementConfig {
  return { pools: [], peers: [], aggregationLength: 32, aggregationLengthV6: 128, aggregateToVipRoutes: false, communities: [], largeCommunities: [], ...fields };
}

const pools = [pool('public', ['10.200.0.0/24', 'fd00:200::/64']), pool('internal', ['10.201.0.10-10.201.0.20'])];
const inputs = { poolOf: poolLookup(pools), vipRoutes: ['10.200.0.0/16'] };

function config(advertisements: BgpAdvertisementConfig[], peers = [peer('10.180.1.1', 'tor-a'), peer('10.180.2.1', 'tor-b')]): BgpConfig {
  return { routerId: '10.180.1.16', localASN: 65002, gracefulRestartSeconds: 120, peers, advertisements };
}

const vips = ['10.200.0.5/32', '10.200.0.9/32', '10.201.0.12/32', '10.99.0.1/32', 'fd00:200::2/128'];

test('advertisements select VIPs by pool and peers by name or address', () => {
  const out = exportPolicy(
    vips,
    config([adv({ pools: ['public'], communities: ['65002:1'] }), adv({ pools: ['internal'], peers: ['10.180.1.1'], largeCommunities: ['65002:0:7'] })]),
    inputs,
  );
  assert.deepEqual(out.get('10.180.1.1'), [
    { prefix: '10.200.0.5/32', communities: ['65002:1'] },
    { prefix: '10.200.0.9/32', communities: ['65002:1'] },
    { prefix: '10.201.0.12/32', largeCommunities: ['65002:0:7'] },
    { prefix: 'fd00:200::2/128', communities: ['65002:1'] },
  ]);
  // tor-b is named by no pool-internal advertisement; the VIP in no pool goes nowhere (both select pools).
  assert.deepEqual(
    out.get('10.180.2.1')?.map((a) => a.prefix),
    ['10.200.0.5/32', '10.200.0.9/32', 'fd00:200::2/128'],
  );
});

test('a VIP in no pool is announced only by advertisements that select no pool', () => {
  const out = exportPolicy(['10.99.0.1/32'], config([adv({ pools: ['public'] }), adv({ peers: ['tor-b'] })]), inputs);
  assert.deepEqual(out.get('10.180.1.1'), []);
  assert.deepEqual(out.get('10.180.2.1'), [{ prefix: '10.99.0.1/32' }]);
});

test('a shorter aggregation length announces the covering prefix once, for each family', () => {
  const wide = { poolOf: poolLookup([pool('public', ['10.200.0.0/16', 'fd00:200::/32'])]), vipRoutes: [] };
  const out = exportPolicy(['10.200.0.5/32', '10.200.0.9/32', 'fd00:200::2/128'], config([adv({ aggregationLength: 24, aggregationLengthV6: 48 })]), wide);
  assert.deepEqual(out.get('10.180.1.1'), [{ prefix: '10.200.0.0/24' }, { prefix: 'fd00:200::/48' }]);
});

test('an aggregate is never wider than the pool block that holds the VIP; a VIP in no pool is not limited', () => {
  // public is a /24 (and a /64), internal a range whose blocks are .10/31 .12/30 .16/30 .20/32.
  const out = exportPolicy(vips, config([adv({ aggregationLength: 16, aggregationLengthV6: 48 })]), inputs);
  assert.deepEqual(
    out.get('10.180.1.1')?.map((a) => a.prefix),
    ['10.200.0.0/24', '10.201.0.12/30', '10.99.0.0/16', 'fd00:200::/64'],
  );
});

test('one prefix from several advertisements: communities united, the highest localPref, the lowest med', () => {
  const out = exportPolicy(
    ['10.200.0.5/32'],
    config([
      adv({ communities: ['65002:1', '65002:2'], localPref: 100, med: 50 }),
      adv({ pools: ['public'], peers: ['tor-a'], communities: ['65002:2', '65002:3'], largeCommunities: ['1:2:3'], localPref: 300, med: 10 }),
    ]),
    inputs,
  );
  assert.deepEqual(out.get('10.180.1.1'), [{ prefix: '10.200.0.5/32', communities: ['65002:1', '65002:2', '65002:3'], largeCommunities: ['1:2:3'], localPref: 300, med: 10 }]);
  assert.deepEqual(out.get('10.180.2.1'), [{ prefix: '10.200.0.5/32', communities: ['65002:1', '65002:2'], localPref: 100, med: 50 }]);
});

test('a host route and its aggregate from two advertisements are both announced', () => {
  const out = exportPolicy(['10.200.0.5/32'], config([adv({}), adv({ aggregationLength: 24 })]), inputs);
  assert.deepEqual(out.get('10.180.1.1')?.map((a) => a.prefix), ['10.200.0.0/24', '10.200.0.5/32']);
});

test('peers given the same advertisements share one route list; no advertisements announce nothing', () => {
  const out = parsedExportPolicy(vips, config([adv({})]), inputs);
  assert.equal(out.get('10.180.1.1'), out.get('10.180.2.1'));
  assert.deepEqual(exportPolicy(vips, config([]), inputs).get('10.180.1.1'), []);
});

const v4Vip = fc.tuple(fc.constantFrom(200, 201), fc.integer({ min: 0, max: 255 })).map(([b, d]) => `10.${b}.0.${d}/32`);
/** The model's pool blocks (see `pools`): the length an aggregate of this VIP is clamped to. */
function blockLength(vip: string): number | undefined {
  const d = Number(vip.split('/')[0]?.split('.')[3]);
  if (vip.startsWith('10.200.0.')) return 24;
  if (d === 10 || d === 11) return 31;
  if (d >= 12 && d <= 19) return 30;
  return d === 20 ? 32 : undefined;
}
const announcedLength = (vip: string, asked: number): number => Math.max(asked, blockLength(vip) ?? 0);
const advArb = fc.record({
  pools: fc.subarray(['public', 'internal']),
  peers: fc.subarray(['tor-a', '10.180.2.1']),
  aggregationLength: fc.constantFrom(32, 24, 16),
  communities: fc.subarray(['65002:1', '65002:2', '65002:3']),
  localPref: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
});

test('property: each peer gets exactly the prefixes its advertisements select, with at least their attributes', () => {
  fc.assert(
    fc.property(fc.uniqueArray(v4Vip, { maxLength: 20 }), fc.array(advArb, { maxLength: 4 }), (vipList, raw) => {
      const advertisements = raw.map((r) => adv({ pools: r.pools, peers: r.peers, aggregationLength: r.aggregationLength, communities: r.communities, ...(r.localPref === undefined ? {} : { localPref: r.localPref }) }));
      const cfg = config(advertisements);
      const out = exportPolicy(vipList, cfg, inputs);
      for (const p of cfg.peers) {
        const mine = advertisements.filter((a) => a.peers.length === 0 || a.peers.includes(p.address) || a.peers.includes(p.name ?? ''));
        const routes = out.get(p.address) ?? [];
        assert.equal(new Set(routes.map((r) => r.prefix)).size, routes.length, 'each prefix once');
        const covers = (prefix: string, vip: string): boolean => {
          const [net, len] = prefix.split('/');
          const bits = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
          const mask = Number(len) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(len));
          return (bits(vip.split('/')[0] ?? '') & mask) >>> 0 === bits(net ?? '');
        };
        const selects = (a: BgpAdvertisementConfig, vip: string): boolean => a.pools.length === 0 || a.pools.includes(poolOfText(vip) ?? '');
        for (const vip of vipList) {
          for (const a of mine.filter((m) => selects(m, vip))) {
            const route = routes.find((r) => r.prefix.endsWith(`/${announcedLength(vip, a.aggregationLength)}`) && covers(r.prefix, vip));
            assert.ok(route !== undefined, `${vip} is announced to ${p.address} by ${JSON.stringify(a)}`);
            for (const c of a.communities) assert.ok(route.communities?.includes(c), `${route.prefix} carries ${c}`);
            if (a.localPref !== undefined) assert.ok((route.localPref ?? -1) >= a.localPref);
          }
        }
        for (const r of routes) {
          const length = Number(r.prefix.split('/')[1]);
          assert.ok(
            vipList.some((vip) => covers(r.prefix, vip) && mine.some((a) => announcedLength(vip, a.aggregationLength) === length && selects(a, vip))),
            `${r.prefix} covers a servable VIP that an advertisement for ${p.address} selects at that length`,
          );
        }
      }
    }),
    { numRuns: 200 },
  );
});

function poolOfText(vip: string): string | undefined {
  return vip.startsWith('10.200.0.') ? 'public' : vip.match(/^10\.201\.0\.(1\d|20)\//) !== null ? 'internal' : undefined;
}
