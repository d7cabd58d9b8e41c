import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Pool, ServiceSpec } from '../model/index.ts';
import { computeDesiredState, type AllocationMemo } from './desired.ts';

const pools: Pool[] = [
  { name: 'default', addresses: ['10.200.0.0/28'], autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: true, namespaces: [], reserved: ['10.200.0.1'], priority: 0 },
  { name: 'v6', addresses: ['fd00:200::/124'], autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: false, namespaces: [], reserved: [], priority: 0 },
];

/** A small, clash-prone Service: few names, few ports, addresses from a tiny pool. */
const arbService: fc.Arbitrary<ServiceSpec> = fc
  .record({
    name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
    type: fc.constantFrom('ClusterIP' as const, 'LoadBalancer' as const),
    externalIPs: fc.subarray(['10.200.0.5', '10.200.0.6', '10.99.0.1']),
    requestedIPs: fc.subarray(['10.200.0.5', '10.200.0.9']),
    ipFamilies: fc.constantFrom([4 as const], [6 as const], [4 as const, 6 as const]),
    ports: fc.uniqueArray(fc.constantFrom(80, 443, 53), { minLength: 1, maxLength: 2 }),
    backends: fc.subarray(['10.100.1.41', '10.100.2.41', 'fd00:100:1::41']),
    ready: fc.boolean(),
    sharingKey: fc.option(fc.constantFrom('shared'), { nil: undefined }),
  })
  .map((r) => ({
    key: `default/${r.name}`, namespace: 'default', name: r.name, type: r.type, externalIPs: r.externalIPs, requestedIPs: r.type === 'LoadBalancer' ? r.requestedIPs : [],
    ipFamilies: r.ipFamilies,
    ...(r.sharingKey === undefined ? {} : { sharingKey: r.sharingKey }),
    ports: r.ports.map((port) => ({ name: `p${port}`, port, protocol: 'tcp' as const, backends: r.backends.map((address) => ({ address, port: 8080, weight: 1, state: r.ready ? ('ready' as const) : ('terminating' as const) })) })),
    sessionAffinity: 'None' as const, sourceRanges: [], snat: 'masquerade' as const,
  }));

/** A source's successive inputs: each step replaces, adds or removes one Service, keeping the other objects. */
const arbHistory = fc.tuple(
  fc.uniqueArray(arbService, { selector: (s) => s.key, maxLength: 5 }),
  fc.array(fc.tuple(fc.nat(), fc.option(arbService, { nil: undefined })), { maxLength: 8 }),
);

test('the memo only saves work: each pass equals one computed from scratch with the same earlier assignments', () => {
  fc.assert(
    fc.property(arbHistory, ([initial, steps]) => {
      let services: ServiceSpec[] = initial;
      let previous: ReadonlyMap<string, readonly string[]> = new Map();
      let memo: AllocationMemo | undefined;
      for (const [index, replacement] of [[0, undefined] as const, ...steps]) {
        const input = { pools, services, denySources: [] };
        const fresh = computeDesiredState(input, previous);
        const remembered = computeDesiredState(input, previous, memo);
        assert.deepEqual(remembered.table, fresh.table);
        assert.deepEqual(remembered.problems, fresh.problems);
        assert.deepEqual([...remembered.assignments], [...fresh.assignments]);
        assert.deepEqual(remembered.advertisements, fresh.advertisements);
        memo = remembered.memo;
        previous = remembered.assignments;
        // The next input: the same objects except one Service replaced, added or removed.
        services = services.filter((s) => s.key !== replacement?.key);
        if (replacement !== undefined) services.push(replacement);
        else if (services.length > 0) services.splice(index % services.length, 1);
      }
    }),
    { numRuns: 300 },
  );
});

test('an unchanged Service keeps its Frontend objects from pass to pass (so the dataplane skips it on identity)', () => {
  const make = (name: string, backend: string): ServiceSpec => ({
    key: `default/${name}`, namespace: 'default', name, type: 'LoadBalancer', externalIPs: [], requestedIPs: [], ipFamilies: [4],
    ports: [{ name: 'http', port: 80, protocol: 'tcp', backends: [{ address: backend, port: 8080, weight: 1, state: 'ready' }] }],
    sessionAffinity: 'None', sourceRanges: [], snat: 'masquerade',
  });
  const a = make('a', '10.100.1.41');
  const first = computeDesiredState({ pools, services: [a, make('b', '10.100.1.42')], denySources: [] }, new Map());
  const second = computeDesiredState({ pools, services: [a, make('b', '10.100.2.42')], denySources: [] }, first.assignments, first.memo);
  const frontendOf = (table: typeof first.table, service: string) => table.frontends.find((f) => f.service === service);
  assert.equal(frontendOf(second.table, 'default/a'), frontendOf(first.table, 'default/a'), 'default/a was expanded again');
  assert.notEqual(frontendOf(second.table, 'default/b'), frontendOf(first.table, 'default/b'));
  assert.equal(frontendOf(second.table, 'default/b')?.backends[0]?.address, '10.100.2.42');
  assert.equal(second.memo.results, first.memo.results, 'allocation ran again though no request changed');
});
