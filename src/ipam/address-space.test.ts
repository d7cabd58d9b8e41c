import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseIp } from '../net/index.ts';
import { AddressSpace, type Segment } from './address-space.ts';

const BASE = parseIp('10.0.0.0').value;

/** Up to 3 disjoint segments near 10.0.0.0, some crossing a .255/.0 boundary. */
const segmentsArb = fc
  .array(fc.record({ gap: fc.nat(300), length: fc.integer({ min: 1, max: 300 }) }), { minLength: 1, maxLength: 3 })
  .map((parts) => {
    const segments: Segment[] = [];
    let next = BASE;
    for (const { gap, length } of parts) {
      const first = next + BigInt(gap);
      const last = first + BigInt(length - 1);
      segments.push({ first, last, text: `${first}-${last}` });
      next = last + 2n;
    }
    return segments;
  });

type Op = { kind: 'allocate' } | { kind: 'release'; pick: number } | { kind: 'take'; offset: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'allocate' as const }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('take' as const), offset: fc.nat(1000) }), weight: 1 },
);

test('property: lowestFree is always the lowest free address, and the cursor never rescans', () => {
  fc.assert(
    fc.property(segmentsArb, fc.array(fc.nat(1000)), fc.boolean(), fc.array(opArb, { maxLength: 400 }), (segments, reservedOffsets, avoidBuggy, ops) => {
      const reserved = new Map(reservedOffsets.map((o) => [BASE + BigInt(o), 'test'] as const));
      const space = new AddressSpace('p', 4, segments, reserved, avoidBuggy);
      const all: bigint[] = [];
      for (const s of segments) for (let v = s.first; v <= s.last; v++) all.push(v);
      const usable = all.filter((v) => !reserved.has(v) && !(avoidBuggy && (v % 256n === 0n || v % 256n === 255n)));
      assert.equal(space.total, BigInt(usable.length));
      const used = new Set<bigint>();
      let calls = 0;
      const lowest = (): bigint | undefined => {
        calls++;
        return space.lowestFree();
      };
      for (const op of ops) {
        if (op.kind === 'allocate') {
          const v = lowest();
          assert.equal(v, usable.find((u) => !used.has(u)));
          if (v !== undefined) {
            space.take(v);
            used.add(v);
          }
        } else if (op.kind === 'release' && used.size > 0) {
          const v = [...used][op.pick % used.size]!;
          space.release(v);
          used.delete(v);
        } else if (op.kind === 'take') {
          const v = BASE + BigInt(op.offset);
          if (usable.includes(v) && !used.has(v)) {
            space.take(v);
            used.add(v);
          }
        }
        assert.equal(space.used, used.size);
      }
      assert.equal(lowest(), usable.find((u) => !used.has(u)));
      assert.ok(space.probes <= all.length + calls, `${space.probes} probes for ${all.length} addresses and ${calls} calls`);
    }),
    { numRuns: 150 },
  );
});

test('10,000 allocations in a /16 examine each address about once', () => {
  const segment: Segment = { first: parseIp('10.200.0.0').value, last: parseIp('10.200.255.255').value, text: '10.200.0.0/16' };
  const space = new AddressSpace('big', 4, [segment], new Map([[segment.first, 'network']]), true);
  for (let i = 0; i < 10_000; i++) space.take(space.lowestFree()!);
  // A scan from the bottom on every allocation would make ~5·10^7 probes.
  assert.ok(space.probes < 2 * 10_000 + 100, `${space.probes} probes`);
  assert.equal(space.used, 10_000);
  assert.equal(space.total, 65_536n - 512n);
});

test('a take that refuses a reserved or already taken address is a broken invariant', () => {
  const segment: Segment = { first: BASE, last: BASE + 3n, text: '10.0.0.0/30' };
  const space = new AddressSpace('p', 4, [segment], new Map([[BASE, 'network']]), false);
  assert.throws(() => space.take(BASE), /ipam invariant: 10\.0\.0\.0 cannot be taken in pool p/);
  space.take(BASE + 1n);
  assert.throws(() => space.take(BASE + 1n), /ipam invariant/);
});
