import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { byClaimOrder, type AddressClaim, type ServiceSpec } from './service.ts';
import { buildServiceTable } from './service-table.ts';

function spec(name: string, backend: string, claim?: AddressClaim): ServiceSpec {
  return {
    key: `default/${name}`, namespace: 'default', name, type: 'ClusterIP', externalIPs: ['10.200.0.5'], requestedIPs: [], ipFamilies: [4],
    ports: [{ name: 'http', port: 80, protocol: 'tcp', backends: [{ address: backend, port: 80, weight: 1, state: 'ready' }] }],
    sessionAffinity: 'None', sourceRanges: [], snat: 'masquerade', ...(claim === undefined ? {} : { claim }),
  };
}

const vips = new Map([['default/nginx', { loadBalancer: [], externalIPs: ['10.200.0.5'] }], ['default/grab', { loadBalancer: [], externalIPs: ['10.200.0.5'] }]]);

test('a clash on one VIP:port: the first holder keeps it whatever the names, the later claimant gets the problem', () => {
  const nginx = spec('nginx', '10.100.1.41', { holding: true, since: Date.parse('2026-12-06T00:10:00Z') });
  // Created before nginx held the address, but never confirmed as holding it.
  const grab = spec('grab', '10.100.9.9', { holding: false, since: Date.parse('2026-12-06T00:00:00Z') });
  const { table, problems } = buildServiceTable([grab, nginx], vips, []);
  assert.deepEqual(table.frontends.map((f) => [f.key, f.service, f.backends[0]?.address]), [['10.200.0.5:80/tcp', 'default/nginx', '10.100.1.41']]);
  assert.deepEqual(problems.map((p) => [p.service, p.code]), [['default/grab', 'FRONTEND_CLASH']]);
  assert.match(problems[0]!.message, /is held by default\/nginx, which claimed it first; not served for default\/grab/);
});

test('neither holding yet: the older Service keeps it; no claim at all ranks last; equal claims by key', () => {
  const older = spec('nginx', '10.100.1.41', { holding: false, since: 1 });
  const newer = spec('grab', '10.100.9.9', { holding: false, since: 2 });
  assert.equal(buildServiceTable([newer, older], vips, []).table.frontends[0]?.service, 'default/nginx');
  assert.equal(buildServiceTable([spec('grab', 'x'), older], vips, []).table.frontends[0]?.service, 'default/nginx');
  assert.equal(buildServiceTable([spec('nginx', 'x'), spec('grab', 'y')], vips, []).table.frontends[0]?.service, 'default/grab');
});

test('claim order is a total order: the winner does not depend on the order Services arrive in', () => {
  const claim = fc.option(fc.record({ holding: fc.boolean(), since: fc.integer({ min: 0, max: 5 }) }), { nil: undefined });
  fc.assert(
    fc.property(fc.uniqueArray(fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd', 'e'), claim }), { selector: (c) => c.key, minLength: 1 }), (claimants) => {
      const sorted = [...claimants].sort(byClaimOrder);
      const again = [...claimants].reverse().sort(byClaimOrder);
      assert.deepEqual(sorted.map((c) => c.key), again.map((c) => c.key));
      for (let i = 1; i < sorted.length; i++) assert.ok(byClaimOrder(sorted[i - 1]!, sorted[i]!) < 0);
    }),
  );
});
