import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Pool, Protocol } from '../model/index.ts';
import { canonicalIp, parseIp } from '../net/index.ts';
import { Allocator, allocateAll, type AllocationRequest, type AllocationResult } from './index.ts';

// Small pools so that exhaustion, sharing and clashes happen often.
const poolArb = (i: number): fc.Arbitrary<Pool> =>
  fc.record({
    v4: fc.constantFrom(`10.${i}.0.0/29`, `10.${i}.0.0/30`, `10.${i}.0.254-10.${i}.1.2`, `10.${i}.0.8/31`),
    v6: fc.option(fc.constantFrom(`fd00:${i}::/126`, `fd00:${i}::/127`, `fd00:${i}::1-fd00:${i}::3`), { nil: undefined }),
    autoAssign: fc.boolean(),
    avoidBuggyIPs: fc.boolean(),
    namespaces: fc.subarray(['a', 'b']),
    reserved: fc.subarray([`10.${i}.0.1`, `10.${i}.0.6`, `fd00:${i}::2`], { maxLength: 1 }),
    priority: fc.integer({ min: 0, max: 2 }),
  }).map(({ v4, v6, ...rest }) => ({
    name: `p${i}`,
    addresses: v6 === undefined ? [v4] : [v4, v6],
    allowExternalIPs: false,
    ...rest,
  }));

const poolsArb: fc.Arbitrary<Pool[]> = fc.integer({ min: 1, max: 3 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => poolArb(i))));

const PORTS: readonly { port: number; protocol: Protocol }[] = [
  { port: 80, protocol: 'tcp' },
  { port: 443, protocol: 'tcp' },
  { port: 53, protocol: 'udp' },
  { port: 53, protocol: 'tcp' },
];

const addressArb = fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.5', '10.1.0.2', '10.1.1.0', '10.2.0.9', 'fd00:0::1', 'fd00:1::3', '192.0.2.1', '10.0.0.02', 'junk');

const requestArb: fc.Arbitrary<AllocationRequest> = fc
  .record({
    namespace: fc.constantFrom('a', 'b', 'c'),
    name: fc.integer({ min: 0, max: 6 }),
    families: fc.constantFrom<AllocationRequest['families']>([4], [6], [4, 6], [6, 4], [4], [4, 4], []),
    requested: fc.oneof({ arbitrary: fc.constant([]), weight: 3 }, { arbitrary: fc.array(addressArb, { maxLength: 2 }), weight: 1 }),
    pool: fc.option(fc.constantFrom('p0', 'p1', 'nope'), { nil: undefined, freq: 3 }),
    sharingKey: fc.option(fc.constantFrom('k1', 'k2'), { nil: undefined }),
    ports: fc.subarray([...PORTS], { minLength: 0 }),
  })
  .map(({ namespace, name, pool, sharingKey, ...rest }) => ({
    service: `${namespace}/s${name}`,
    namespace,
    ...rest,
    ...(pool === undefined ? {} : { pool }),
    ...(sharingKey === undefined ? {} : { sharingKey }),
  }));

/** Every address held by two services is shared under one key by services whose ports differ. */
function assertNoDoubleGrant(assignments: ReadonlyMap<string, readonly string[]>, requests: ReadonlyMap<string, AllocationRequest>): void {
  const holders = new Map<string, string[]>();
  for (const [service, addresses] of assignments) {
    for (const a of addresses) holders.set(a, [...(holders.get(a) ?? []), service]);
  }
  for (const [address, services] of holders) {
    if (services.length < 2) continue;
    const reqs = services.map((s) => requests.get(s)!);
    const key = reqs[0]!.sharingKey;
    assert.ok(key !== undefined && reqs.every((r) => r.sharingKey === key), `${address} held by ${services.join(', ')} without a common key`);
    const seen = new Set<string>();
    for (const r of reqs) {
      for (const p of new Set(r.ports.map((x) => `${x.port}/${x.protocol}`))) {
        assert.ok(!seen.has(p), `${address}: ${p} served twice by ${services.join(', ')}`);
        seen.add(p);
      }
    }
  }
}

function assertWellFormed(request: AllocationRequest, result: AllocationResult): void {
  if (!result.ok) return;
  const families = result.addresses.map((a) => parseIp(a).family);
  assert.deepEqual(families, [...new Set(request.families)].sort());
  for (const a of result.addresses) assert.equal(canonicalIp(a), a);
}

type Op = { kind: 'allocate'; request: AllocationRequest } | { kind: 'release'; request: AllocationRequest } | { kind: 'restore'; request: AllocationRequest; addresses: string[] };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('allocate' as const), request: requestArb }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('release' as const), request: requestArb }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('restore' as const), request: requestArb, addresses: fc.array(addressArb, { maxLength: 2 }) }), weight: 2 },
);

test('property: no address is given to two services unless they share a key without a port clash', () => {
  fc.assert(
    fc.property(poolsArb, fc.array(opArb, { minLength: 1, maxLength: 60 }), (pools, ops) => {
      const ipam = new Allocator(pools);
      // What each holding service last asked for: the allocator keeps its key and ports.
      const live = new Map<string, AllocationRequest>();
      for (const op of ops) {
        const { request } = op;
        if (op.kind === 'release') {
          ipam.release(request.service);
          live.delete(request.service);
        } else if (op.kind === 'allocate') {
          const result = ipam.allocate(request);
          assertWellFormed(request, result);
          if (result.ok) live.set(request.service, request);
          else live.delete(request.service);
        } else {
          const result = ipam.restore(request, op.addresses);
          if (result.ok) {
            assert.deepEqual([...result.addresses].sort(), op.addresses.map((a) => canonicalIp(a)).sort());
            if (result.addresses.length > 0) live.set(request.service, request);
            else live.delete(request.service);
          }
        }
        const assignments = ipam.assignments();
        assert.deepEqual([...assignments.keys()].sort(), [...live.keys()].sort());
        assertNoDoubleGrant(assignments, live);
        const distinct = new Set([...assignments.values()].flat());
        assert.equal(ipam.poolStats().reduce((n, s) => n + s.used, 0), distinct.size);
      }
    }),
    { numRuns: 300 },
  );
});

/** Requests with distinct service keys (allocateAll refuses duplicates). */
const distinctRequestsArb = fc.uniqueArray(requestArb, { selector: (r) => r.service, maxLength: 14 });

function okAddresses(results: ReadonlyMap<string, AllocationResult>): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const [service, r] of results) if (r.ok) out.set(service, r.addresses);
  return out;
}

function summary(results: ReadonlyMap<string, AllocationResult>): [string, string][] {
  return [...results].map(([s, r]) => [s, r.ok ? r.addresses.join(',') : r.error.code]);
}

test('property: after a restart allocateAll gives every service the same addresses, whatever the order and with newcomers', () => {
  fc.assert(
    fc.property(
      poolsArb,
      distinctRequestsArb,
      distinctRequestsArb,
      fc.infiniteStream(fc.double({ noNaN: true })).map((s) => [...s.take(40)]),
      (pools, before, newcomers, sortKeys) => {
        const first = allocateAll(pools, before, new Map());
        for (const request of before) assertWellFormed(request, first.get(request.service)!);
        assertNoDoubleGrant(okAddresses(first), new Map(before.map((r) => [r.service, r])));
        const previous = okAddresses(first);
        const known = new Set(before.map((r) => r.service));
        const after = [...before, ...newcomers.filter((r) => !known.has(r.service))];
        const shuffled = after.map((r, i) => [sortKeys[i] ?? i, r] as const).sort((x, y) => x[0] - y[0]).map(([, r]) => r);
        const second = allocateAll(pools, shuffled, previous);
        for (const [service, addresses] of previous) {
          const again = second.get(service)!;
          assert.ok(again.ok, `${service} lost ${addresses.join(', ')}: ${again.ok ? '' : again.error.message}`);
          assert.deepEqual(again.addresses, addresses, service);
        }
        // Deterministic: another arrival order gives exactly the same answer.
        assert.deepEqual(summary(allocateAll(pools, [...shuffled].reverse(), previous)), summary(second));
      },
    ),
    { numRuns: 300 },
  );
});
