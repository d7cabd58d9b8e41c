import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Pool } from '../model/index.ts';
import { cidrContains, cidrOf, formatIp, parseIp, parseRange, rangeContains, type IpAddress } from '../net/index.ts';
import { ConfigIssueCode, formatIssue } from './errors.ts';
import { checkL2Interfaces, l2InterfaceLookup, l2InterfacesFor, type HostInterfaces } from './l2-host.ts';
import { loadConfigFile } from './load.ts';
import { poolsFromConfig } from './to-model.ts';
import { DEFAULT_L2_ANNOUNCE, DEFAULT_L2_BFD, type L2AdvertisementConfig, type L2Config } from './types.ts';

function pool(name: string, addresses: string[]): Pool {
  return { name, addresses, autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: false, namespaces: [], reserved: [], priority: 0 };
}

function l2(...advertisements: L2AdvertisementConfig[]): L2Config {
  return { advertisements, peers: [], announce: DEFAULT_L2_ANNOUNCE, failbackHoldDownSeconds: 10, bfd: DEFAULT_L2_BFD };
}

const host: HostInterfaces = new Map([
  ['lo', [{ address: '127.0.0.1', prefixLength: 8 }, { address: '::1', prefixLength: 128 }]],
  ['eth0', [{ address: '192.168.1.11', prefixLength: 24 }, { address: 'fd00:1::11', prefixLength: 64 }, { address: '192.168.1.12', prefixLength: 24 }]],
  ['eth1', [{ address: '192.168.2.11', prefixLength: 25 }]],
  ['eth2', [{ address: '192.168.2.130', prefixLength: 25 }]],
  ['wg0', []],
  // Nothing a host reports stops the check: these hold nothing.
  ['odd0', [{ address: 'fe80::1%odd0', prefixLength: 64 }, { address: '10.9.9.9', prefixLength: 33 }]],
]);

const pools = [
  pool('lan', ['192.168.1.240-192.168.1.250', 'fd00:1::f0-fd00:1::ff']),
  pool('wide', ['192.168.2.0/24']),
  pool('elsewhere', ['10.200.0.0/24', '192.168.1.16/28']),
];

const lines = (config: L2Config, interfaces: HostInterfaces = host) => checkL2Interfaces(config, pools, interfaces, 'lb1.yaml').map(formatIssue);

test('pools inside their interfaces\' subnets pass; a range may span the subnets of two interfaces', () => {
  assert.deepEqual(lines(l2({ pools: ['lan'], interfaces: ['eth0'] }, { pools: ['wide'], interfaces: ['eth1', 'eth2'] }, { pools: [], interfaces: ['eth0'] })), []);
});

test('an interface the node lacks is named, with the interfaces it has', () => {
  const issues = checkL2Interfaces(l2({ pools: ['lan'], interfaces: ['eth0', 'eth9'] }), pools, host, 'lb1.yaml');
  assert.deepEqual(issues, [
    {
      code: ConfigIssueCode.badReference,
      file: 'lb1.yaml',
      line: 0,
      column: 0,
      path: 'l2.advertisements[0].interfaces[1]',
      value: 'eth9',
      message: 'there is no interface "eth9" on this node',
      allowed: "one of this node's interfaces: eth0, eth1, eth2, lo, odd0, wg0",
    },
  ]);
  assert.deepEqual(lines(l2({ pools: ['lan'], interfaces: ['eth0'] }), new Map()), ['lb1.yaml: l2.advertisements[0].interfaces[0]: there is no interface "eth0" on this node; expected one of this node\'s interfaces: (none)']);
});

test('a pool outside the subnets of its advertisement\'s interfaces is named, with the interfaces and their subnets', () => {
  assert.deepEqual(lines(l2({ pools: ['wide', 'lan'], interfaces: ['eth1', 'wg0', 'eth8'] }, { pools: ['elsewhere'], interfaces: ['eth0'] })), [
    'lb1.yaml: l2.advertisements[0].interfaces[2]: there is no interface "eth8" on this node; expected one of this node\'s interfaces: eth0, eth1, eth2, lo, odd0, wg0',
    'lb1.yaml: l2.advertisements[0].pools[0]: pool "wide" has 192.168.2.0/24 outside the subnets of eth1 (192.168.2.0/25), wg0 (no addresses); expected a pool whose addresses all lie in the subnet of one of the advertisement\'s interfaces (clients on that segment must reach its VIPs directly)',
    'lb1.yaml: l2.advertisements[0].pools[1]: pool "lan" has 192.168.1.240-192.168.1.250, fd00:1::f0-fd00:1::ff outside the subnets of eth1 (192.168.2.0/25), wg0 (no addresses); expected a pool whose addresses all lie in the subnet of one of the advertisement\'s interfaces (clients on that segment must reach its VIPs directly)',
    // Only the block outside is named; a subnet of one family holds nothing of the other.
    'lb1.yaml: l2.advertisements[1].pools[0]: pool "elsewhere" has 10.200.0.0/24 outside the subnets of eth0 (192.168.1.0/24, fd00:1::/64); expected a pool whose addresses all lie in the subnet of one of the advertisement\'s interfaces (clients on that segment must reach its VIPs directly)',
  ]);
  assert.equal(checkL2Interfaces(l2({ pools: ['elsewhere'], interfaces: ['eth0'] }), pools, host, 'f')[0]?.code, ConfigIssueCode.conflict);
});

test('an IPv6 pool on an interface with IPv4 only is outside; pools the model lacks and advertisements with no interface here are skipped', () => {
  assert.match(lines(l2({ pools: ['lan'], interfaces: ['eth1', 'eth2'] })).join('\n'), /pool "lan" has 192\.168\.1\.240-192\.168\.1\.250, fd00:1::f0-fd00:1::ff outside the subnets of eth1 \(192\.168\.2\.0\/25\), eth2 \(192\.168\.2\.128\/25\)/);
  assert.deepEqual(lines(l2({ pools: ['from-the-cluster'], interfaces: ['eth0'] })), []);
  assert.match(lines(l2({ pools: ['elsewhere'], interfaces: ['odd0'] })).join('\n'), /pool "elsewhere" has 10\.200\.0\.0\/24, 192\.168\.1\.16\/28 outside the subnets of odd0 \(no addresses\)/);
  assert.deepEqual(lines(l2({ pools: ['elsewhere'], interfaces: ['eth9'] })).length, 1, 'the missing interface only');
});

test('l2InterfacesFor: the interfaces of the advertisements selecting the VIP whose subnet holds it', () => {
  const config = l2({ pools: ['lan'], interfaces: ['eth1', 'eth0'] }, { pools: ['wide'], interfaces: ['eth1', 'eth2', 'eth9'] }, { pools: [], interfaces: ['eth2', 'eth0'] });
  const on = (vip: string) => l2InterfacesFor(parseIp(vip), config, pools, host);
  assert.deepEqual(on('192.168.1.245'), ['eth0']);
  assert.deepEqual(on('fd00:1::f5'), ['eth0']);
  assert.deepEqual(on('192.168.2.5'), ['eth1']);
  assert.deepEqual(on('192.168.2.200'), ['eth2']);
  // In no pool (an externalIP): only `pools: []` selects it.
  assert.deepEqual(on('192.168.1.100'), ['eth0']);
  // In a pool no advertisement names, outside every subnet: not answered.
  assert.deepEqual(on('10.200.0.5'), []);
  assert.deepEqual(l2InterfacesFor(parseIp('192.168.1.245'), l2({ pools: ['wide'], interfaces: ['eth0'] }), pools, host), []);
});

test('examples/lb1-l2.yaml fits a node whose eth0 holds its subnets, and answers its VIPs on eth0', async () => {
  const cfg = await loadConfigFile(new URL('../../examples/lb1-l2.yaml', import.meta.url).pathname, { hostname: 'ignored' });
  assert.ok(cfg.l2 !== undefined);
  assert.deepEqual(cfg.l2.peers.map((p) => p.name), ['lb2', 'lb3']);
  const eth0: HostInterfaces = new Map([['eth0', [{ address: '192.168.1.11', prefixLength: 24 }, { address: 'fd00:1::11', prefixLength: 64 }]]]);
  const modelPools = poolsFromConfig(cfg);
  assert.deepEqual(checkL2Interfaces(cfg.l2, modelPools, eth0, 'lb1-l2.yaml'), []);
  const lookup = l2InterfaceLookup(cfg.l2, modelPools, eth0);
  assert.deepEqual([lookup(parseIp('192.168.1.240')), lookup(parseIp('fd00:1::ff')), lookup(parseIp('192.168.2.1'))], [['eth0'], ['eth0'], []]);
  // The same file on a node whose eth0 is in another subnet is refused, naming what is there.
  const elsewhere: HostInterfaces = new Map([['eth0', [{ address: '10.0.0.11', prefixLength: 24 }]]]);
  assert.match(checkL2Interfaces(cfg.l2, modelPools, elsewhere, 'lb1-l2.yaml').map(formatIssue).join('\n'), /^lb1-l2\.yaml: l2\.advertisements\[0\]\.pools\[0\]: pool "lan" has .* outside the subnets of eth0 \(10\.0\.0\.0\/24\)/);
});

// Random IPv4 subnets on a few interfaces, random pools of blocks and ranges, random advertisements.
const v4 = (n: number): IpAddress => ({ family: 4, value: BigInt(n >>> 0) });
const arbInterfaces = fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 20, max: 30 })), { minLength: 1, maxLength: 3 }).map(
  (subnets): HostInterfaces => new Map(subnets.map(([third, length], i) => [`eth${i}`, [{ address: `10.0.${third}.1`, prefixLength: length }]])),
);
const arbPools = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 40 })), { minLength: 1, maxLength: 3 })
  .map((blocks) => blocks.map(([third, first, size], i) => pool(`p${i}`, [`10.0.${third}.${first}-10.0.${third}.${Math.min(255, first + size)}`])));
const arbAdvertisement = (poolCount: number) =>
  fc.record({
    pools: fc.subarray(Array.from({ length: poolCount }, (_, i) => `p${i}`)),
    interfaces: fc.subarray(['eth0', 'eth1', 'eth2'], { minLength: 1 }),
  });

test('property: without host issues, every address of a named pool is answered on an interface whose subnet holds it', () => {
  fc.assert(
    fc.property(
      arbInterfaces,
      arbPools.chain((ps) => fc.tuple(fc.constant(ps), fc.array(arbAdvertisement(ps.length), { minLength: 1, maxLength: 3 }), fc.integer())),
      (interfaces, [ps, advertisements, seed]) => {
        const config = l2(...advertisements);
        const issues = checkL2Interfaces(config, ps, interfaces, 'x.yaml');
        const lookup = l2InterfaceLookup(config, ps, interfaces);
        for (const [i, adv] of advertisements.entries()) {
          const present = adv.interfaces.filter((n) => interfaces.has(n));
          for (const [j, name] of adv.pools.entries()) {
            const range = parseRange(ps.find((p) => p.name === name)!.addresses[0]!);
            // Sample the range: its ends and one address picked by the seed.
            const samples = [range.first, range.last, range.first + (BigInt(seed >>> 0) % (range.last - range.first + 1n))].map((v) => v4(Number(v)));
            const reported = issues.some((x) => x.path === `l2.advertisements[${i}].pools[${j}]`);
            const allAnswered = samples.every((vip) => lookup(vip).some((n) => present.includes(n)));
            if (present.length > 0 && !reported) assert.ok(allAnswered, `pool ${name} passed but ${samples.map(formatIp).join(' ')} not all answered`);
            // A pool reported is truly outside somewhere: some address of it is in no subnet of the advertisement.
            if (reported) {
              const held = present.flatMap((n) => interfaces.get(n)!.map((a) => cidrOf(parseIp(a.address), a.prefixLength)));
              let someOutside = false;
              for (let v = range.first; v <= range.last && !someOutside; v++) someOutside = !held.some((c) => cidrContains(c, v4(Number(v))));
              assert.ok(someOutside, `pool ${name} reported but every address is held`);
            }
          }
        }
        for (const issue of issues) assert.match(formatIssue(issue), /^x\.yaml: l2\.advertisements\[\d+\]\.(pools|interfaces)\[\d+\]: .+; expected .+/);
      },
    ),
    { numRuns: 300 },
  );
});

test('property: every interface l2InterfacesFor returns holds the VIP and belongs to an advertisement selecting it', () => {
  fc.assert(
    fc.property(
      arbInterfaces,
      arbPools.chain((ps) => fc.tuple(fc.constant(ps), fc.array(arbAdvertisement(ps.length), { minLength: 1, maxLength: 3 }))),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      (interfaces, [ps, advertisements], third, fourth) => {
        const vip = parseIp(`10.0.${third}.${fourth}`);
        const poolOfVip = ps.find((p) => rangeContains(parseRange(p.addresses[0]!), vip))?.name;
        const got = l2InterfacesFor(vip, l2(...advertisements), ps, interfaces);
        assert.equal(new Set(got).size, got.length, 'no repeats');
        for (const name of got) {
          assert.ok(interfaces.get(name)!.some((a) => cidrContains(cidrOf(parseIp(a.address), a.prefixLength), vip)));
          assert.ok(advertisements.some((a) => a.interfaces.includes(name) && (a.pools.length === 0 || (poolOfVip !== undefined && a.pools.includes(poolOfVip)))));
        }
      },
    ),
    { numRuns: 300 },
  );
});
