import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { cidrOf, formatCidr, parseCidr, parseIp, type Cidr } from '../net/index.ts';
import { parseAdvertisements, routesForPeer, type Advertisement } from './advertisement.ts';
import { attributesKey, describeAttributesKey, planUpdates, type OutRoute } from './rib-out.ts';
import { MAX_MESSAGE_LENGTH } from './wire/constants.ts';
import { decodeUpdate, type UpdateMessage } from './wire/update.ts';

const ctx = { fourOctetAs: true };
const view = { localAsn: 65002, peerAsn: 65001, families: ['ipv4', 'ipv6'] as const, defaultNextHop: { ipv4: parseIp('10.10.12.2'), ipv6: parseIp('fd00:12::2') } };

function routes(ads: Advertisement[]): OutRoute[] {
  return routesForPeer(parseAdvertisements(ads), view).routes;
}

function decodeAll(updates: readonly Uint8Array[]): UpdateMessage[] {
  return updates.map((u) => decodeUpdate(u, ctx));
}

const announcedIn = (u: UpdateMessage): string[] => [...u.nlri, ...(u.attributes.mpReach?.nlri ?? [])].map(formatCidr);
const withdrawnIn = (u: UpdateMessage): string[] => [...u.withdrawn, ...(u.attributes.mpUnreach?.withdrawn ?? [])].map(formatCidr);

test('prefixes with the same attributes share one UPDATE; IPv6 goes in MP_REACH with its next hop', () => {
  const plan = planUpdates(new Map(), routes([{ prefix: parseCidr('10.200.0.5/32') }, { prefix: parseCidr('10.200.0.6/32') }, { prefix: parseCidr('10.200.0.7/32'), med: 5 }, { prefix: parseCidr('fd00:200::5/128') }]), ctx);
  const updates = decodeAll(plan.updates);
  assert.equal(updates.length, 3, 'two IPv4 attribute sets + one IPv6');
  assert.deepEqual(announcedIn(updates[0]!), ['10.200.0.5/32', '10.200.0.6/32']);
  assert.deepEqual(updates[0]!.attributes.asPath, [{ type: 2, asns: [65002] }]);
  assert.deepEqual(updates[0]!.attributes.nextHop, parseIp('10.10.12.2'));
  assert.equal(updates[0]!.attributes.localPref, undefined, 'no LOCAL_PREF to an eBGP peer');
  assert.equal(updates[1]!.attributes.multiExitDisc, 5);
  assert.deepEqual(updates[2]!.attributes.mpReach?.nextHops, [parseIp('fd00:12::2')]);
  assert.deepEqual(announcedIn(updates[2]!), ['fd00:200::5/128']);
  assert.equal(plan.announced, 4);
});

test('a second plan sends only the difference: withdrawals, new and changed routes', () => {
  const first = planUpdates(new Map(), routes([{ prefix: parseCidr('10.200.0.5/32') }, { prefix: parseCidr('10.200.0.6/32') }, { prefix: parseCidr('fd00:200::5/128') }, { prefix: parseCidr('10.200.0.8/32') }]), ctx);
  const second = planUpdates(first.next, routes([{ prefix: parseCidr('10.200.0.5/32') }, { prefix: parseCidr('10.200.0.6/32'), communities: ['65002:100'] }, { prefix: parseCidr('10.200.0.9/32') }]), ctx);
  const updates = decodeAll(second.updates);
  assert.deepEqual(updates.flatMap(withdrawnIn).sort(), ['10.200.0.8/32', 'fd00:200::5/128']);
  assert.deepEqual(updates.flatMap(announcedIn).sort(), ['10.200.0.6/32', '10.200.0.9/32']);
  assert.ok(updates.some((u) => u.attributes.communities?.[0] === 65002 * 65536 + 100));
  assert.equal(planUpdates(second.next, routes([{ prefix: parseCidr('10.200.0.5/32') }, { prefix: parseCidr('10.200.0.6/32'), communities: ['65002:100'] }, { prefix: parseCidr('10.200.0.9/32') }]), ctx).updates.length, 0, 'no change, nothing sent');
});

test('iBGP: LOCAL_PREF (default 100) and an empty AS_PATH', () => {
  const r = routesForPeer(parseAdvertisements([{ prefix: parseCidr('10.200.0.5/32') }, { prefix: parseCidr('10.200.0.6/32'), localPref: 300 }]), { ...view, peerAsn: 65002 }).routes;
  assert.deepEqual(r.map((x) => [x.attributes.localPref, x.attributes.asPath]), [[100, []], [300, []]]);
});

test('families the peer did not negotiate are left out; a missing next hop is reported', () => {
  const desired = parseAdvertisements([{ prefix: parseCidr('10.200.0.5/32') }, { prefix: parseCidr('fd00:200::5/128') }]);
  assert.deepEqual(routesForPeer(desired, { ...view, families: ['ipv4'] }).routes.map((r) => formatCidr(r.prefix)), ['10.200.0.5/32']);
  const noV6 = routesForPeer(desired, { ...view, defaultNextHop: { ipv4: parseIp('10.10.12.2') } });
  assert.deepEqual(noV6.skipped, ['fd00:200::5/128']);
});

test('invalid advertisements are refused whole, naming the entry and what is allowed', () => {
  const cases: [Advertisement[], RegExp][] = [
    [[{ prefix: parseCidr('10.200.0.5/32') }, { prefix: parseCidr('10.200.0.5') }], /advertisement 1: prefix 10.200.0.5\/32 appears twice/],
    [[{ prefix: parseCidr('10.200.0.5/32'), communities: ['65536:1'] }], /"asn:value", each 0..65535/],
    [[{ prefix: parseCidr('10.200.0.5/32'), largeCommunities: ['1:2'] }], /global:local1:local2/],
    [[{ prefix: parseCidr('10.200.0.5/32'), nextHop: 'fd00::1' }], /not IPv4/],
    [[{ prefix: parseCidr('10.200.0.5/32'), med: -1 }], /med -1/],
  ];
  for (const [ads, message] of cases) assert.throws(() => parseAdvertisements(ads), { code: 'BGP_BAD_ADVERTISEMENT', message });
});

const hostRoute = fc.oneof(
  fc.nat({ max: 0xffff }).map((n) => `10.200.${n >> 8}.${n & 255}/32`),
  fc.nat({ max: 0xffff }).map((n) => `fd00:200::${n.toString(16)}/128`),
);

test('property: any change is carried out exactly, in UPDATEs of at most 4096 bytes', () => {
  fc.assert(
    fc.property(fc.uniqueArray(hostRoute, { maxLength: 1500 }), fc.uniqueArray(hostRoute, { maxLength: 1500 }), fc.nat({ max: 3 }), (before, after, med) => {
      const first = planUpdates(new Map(), routes(before.map((prefix) => ({ prefix: parseCidr(prefix) }))), ctx);
      const second = planUpdates(first.next, routes(after.map((prefix) => ({ prefix: parseCidr(prefix), med }))), ctx);
      // Replay what the peer would see and compare with the desired set.
      const table = new Set<string>();
      for (const u of decodeAll([...first.updates, ...second.updates])) {
        for (const p of withdrawnIn(u)) table.delete(p);
        for (const p of announcedIn(u)) table.add(p);
      }
      const canonical = (p: string): string => formatCidr(parseCidr(p));
      assert.deepEqual([...table].sort(), after.map(canonical).sort());
      for (const u of [...first.updates, ...second.updates]) assert.ok(u.length <= MAX_MESSAGE_LENGTH);
      // Batching: never more UPDATEs than a 4096-byte message could need.
      assert.ok(first.updates.length <= Math.ceil((before.length * 17) / 3900) + 2);
    }),
    { numRuns: 60 },
  );
});

test('10,000 /32s go out in a few dozen full UPDATEs', () => {
  const many: Advertisement[] = Array.from({ length: 10_000 }, (_, i) => ({ prefix: parseCidr(`10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`) }));
  const plan = planUpdates(new Map(), routes(many), ctx);
  const all: Cidr[] = decodeAll(plan.updates).flatMap((u) => [...u.nlri]);
  assert.equal(all.length, 10_000);
  assert.ok(plan.updates.length <= 15, `${plan.updates.length} updates`);
});

test('an attributes key reads back as the attributes an operator sees (vipgate bgp routes)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 4 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })), { maxLength: 3 }),
      fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
      fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
      fc.boolean(),
      (communities, large, localPref, med, v6) => {
        const route: OutRoute = {
          prefix: parseCidr(v6 ? 'fd00:200::5/128' : '10.200.0.5/32'),
          attributes: {
            origin: 0,
            communities,
            largeCommunities: large.map(([g, a, b]) => ({ globalAdministrator: g, localData1: a, localData2: b })),
            ...(localPref === undefined ? {} : { localPref }),
            ...(med === undefined ? {} : { multiExitDisc: med }),
          },
          nextHops: v6 ? [parseIp('fd00:12::2'), parseIp('fe80::1')] : [parseIp('10.10.12.2')],
        };
        assert.deepEqual(describeAttributesKey(attributesKey(route)), {
          nextHops: v6 ? ['fd00:12::2', 'fe80::1'] : ['10.10.12.2'],
          ...(localPref === undefined ? {} : { localPref }),
          ...(med === undefined ? {} : { med }),
          communities: communities.map((c) => `${c >>> 16}:${c & 0xffff}`),
          largeCommunities: large.map(([g, a, b]) => `${g}:${a}:${b}`),
        });
      },
    ),
  );
  assert.equal(describeAttributesKey('not json'), undefined);
  assert.equal(describeAttributesKey('{"x":1}'), undefined);
});

/** The same prefix written another way: IPv6 in capitals with leading zeros, IPv4 as given. */
const otherSpelling = (text: string): string => (text.includes(':') ? text.toUpperCase().replace('::', ':0:0:0:0:0:') : text);

test('property: the Adj-RIB-Out diff of parsed prefixes is the diff of their text forms, whatever objects carry them', () => {
  fc.assert(
    fc.property(fc.uniqueArray(hostRoute, { maxLength: 300 }), fc.uniqueArray(hostRoute, { maxLength: 300 }), fc.boolean(), (before, after, respell) => {
      const first = planUpdates(new Map(), routes(before.map((prefix) => ({ prefix: parseCidr(prefix) }))), ctx);
      // The next set arrives as new prefix objects, parsed from other text or built from an
      // address: only the prefix itself may decide what is unchanged.
      const next = after.map((text, i) => ({
        prefix: i % 2 === 0 ? parseCidr(respell ? otherSpelling(text) : text) : cidrOf(parseIp(text.slice(0, text.indexOf('/'))), Number(text.slice(text.indexOf('/') + 1))),
      }));
      const second = planUpdates(first.next, routes(next), ctx);
      const canonical = (p: string): string => formatCidr(parseCidr(p));
      const was = new Set(before.map(canonical));
      const now = new Set(after.map(canonical));
      const decoded = decodeAll(second.updates);
      assert.deepEqual(decoded.flatMap(withdrawnIn).sort(), [...was].filter((p) => !now.has(p)).sort(), 'withdrawn: what is no longer wanted');
      assert.deepEqual(decoded.flatMap(announcedIn).sort(), [...now].filter((p) => !was.has(p)).sort(), 'announced: only what is new');
      assert.deepEqual([...second.next.keys()].sort(), [...now].sort(), 'the Adj-RIB-Out is keyed by canonical prefix text');
    }),
    { numRuns: 100 },
  );
});
