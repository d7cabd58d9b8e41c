import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Backend, Frontend } from '../../model/index.ts';
import { desiredService, sameFrontend } from './desired.ts';

function frontend(backends: Backend[], extra: Partial<Frontend> = {}): Frontend {
  return {
    key: '10.200.0.5:80/tcp',
    service: 'default/web',
    type: 'LoadBalancer',
    address: '10.200.0.5',
    family: 4,
    port: 80,
    protocol: 'tcp',
    backends,
    sessionAffinity: 'None',
    allowedSources: 'any',
    snat: 'masquerade',
    ...extra,
  };
}

const backend = (i: number, extra: Partial<Backend> = {}): Backend => ({ address: `10.100.1.${i}`, port: 8080, weight: 1, state: 'ready', ...extra });

test('sameFrontend: equal copies are the same; nothing before is the same as something', () => {
  const a = frontend([backend(1), backend(2)], { allowedSources: ['10.0.0.0/8'] });
  assert.equal(sameFrontend(a, structuredClone(a)), true);
  assert.equal(sameFrontend(undefined, a), false);
});

test('sameFrontend: every field the maps are built from makes a difference', () => {
  const base = frontend([backend(1), backend(2)]);
  const changes: Frontend[] = [
    frontend([backend(1)]),
    frontend([backend(1), backend(3)]),
    frontend([backend(1), backend(2, { port: 9090 })]),
    frontend([backend(1), backend(2, { weight: 2 })]),
    frontend([backend(1), backend(2, { state: 'terminating' })]),
    frontend([backend(2), backend(1)]),
    frontend([backend(1), backend(2)], { sessionAffinity: 'ClientIP' }),
    frontend([backend(1), backend(2)], { snat: 'none' }),
    frontend([backend(1), backend(2)], { allowedSources: [] }),
    frontend([backend(1), backend(2)], { port: 81, key: '10.200.0.5:81/tcp' }),
    frontend([backend(1), backend(2)], { protocol: 'udp', key: '10.200.0.5:80/udp' }),
  ];
  for (const c of changes) assert.equal(sameFrontend(base, c), false, JSON.stringify(c));
  const restricted = frontend([backend(1)], { allowedSources: ['10.0.0.0/8'] });
  assert.equal(sameFrontend(restricted, frontend([backend(1)], { allowedSources: ['10.0.0.0/16'] })), false);
  assert.equal(sameFrontend(restricted, frontend([backend(1)], { allowedSources: ['10.0.0.0/8', '10.1.0.0/16'] })), false);
  assert.equal(sameFrontend(restricted, frontend([backend(1)])), false);
});

test('sameFrontend ⇒ the same map entries (property)', () => {
  const arbBackend = fc.record({
    address: fc.constantFrom('10.100.1.1', '10.100.1.2', '10.100.1.3'),
    port: fc.constantFrom(8080, 9090),
    weight: fc.constantFrom(0, 1, 2),
    state: fc.constantFrom('ready' as const, 'terminating' as const),
  });
  const arbFrontend = fc.record({
    backends: fc.array(arbBackend, { maxLength: 3 }),
    sessionAffinity: fc.constantFrom('None' as const, 'ClientIP' as const),
    snat: fc.constantFrom('none' as const, 'masquerade' as const),
    allowedSources: fc.constantFrom('any' as const, ['10.0.0.0/8'], ['10.0.0.0/16']),
  });
  fc.assert(
    fc.property(arbFrontend, arbFrontend, (x, y) => {
      const a = frontend(x.backends, x);
      const b = frontend(y.backends, y);
      if (!sameFrontend(a, b)) return;
      const [da, db] = [desiredService(a), desiredService(b)];
      assert.deepEqual({ ...da, frontend: undefined }, { ...db, frontend: undefined });
    }),
    { numRuns: 2000 },
  );
});
