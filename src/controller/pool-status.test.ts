import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeVipPool } from '../kube/index.ts';
import { desiredPoolStatus, poolConflicts } from './pool-status.ts';

const pool = (name: string, addresses: string[], status?: Record<string, unknown>): KubeVipPool => ({
  metadata: { name, generation: 3 },
  spec: { addresses },
  ...(status === undefined ? {} : { status }),
});
const now = new Date('2026-01-02T03:04:05.000Z');

test('poolConflicts: both pools see the other and their own overlapping entries; families and disjoint entries do not clash', () => {
  const conflicts = poolConflicts([
    pool('b', ['10.0.0.128/25', '10.9.0.0/24']),
    pool('a', ['10.0.0.0/24', 'fd00::/64']),
    pool('c', ['10.0.0.200-10.0.0.210', 'fd01::/64']),
    pool('d', ['not-an-address']),
  ]);
  assert.deepEqual(conflicts.get('a'), [{ pool: 'b', addresses: ['10.0.0.0/24'] }, { pool: 'c', addresses: ['10.0.0.0/24'] }]);
  assert.deepEqual(conflicts.get('b'), [{ pool: 'a', addresses: ['10.0.0.128/25'] }, { pool: 'c', addresses: ['10.0.0.128/25'] }]);
  assert.deepEqual(conflicts.get('c'), [{ pool: 'a', addresses: ['10.0.0.200-10.0.0.210'] }, { pool: 'b', addresses: ['10.0.0.200-10.0.0.210'] }]);
  assert.equal(conflicts.get('d'), undefined);
});

test('desiredPoolStatus: usage per family as strings, an Accepted condition, and nothing to write when it is already so', () => {
  const stats = [
    { pool: 'a', family: 4 as const, total: 254n, used: 3, free: 251n },
    { pool: 'a', family: 6 as const, total: 2n ** 64n - 1n, used: 0, free: 2n ** 64n - 1n },
  ];
  const body = desiredPoolStatus(pool('a', ['10.0.0.0/24', 'fd00::/64']), stats, [], undefined, now);
  assert.ok(body);
  assert.deepEqual(body['ipv4'], { total: '254', used: '3', free: '251' });
  assert.deepEqual(body['ipv6'], { total: '18446744073709551615', used: '0', free: '18446744073709551615' });
  assert.equal(body['observedGeneration'], 3);
  assert.deepEqual(body['conditions'], [
    { type: 'vipgate.io/Usable', status: 'True', reason: 'Accepted', message: 'addresses are handed out from this pool', lastTransitionTime: now.toISOString(), observedGeneration: 3 },
  ]);
  // Written, read back (a later clock): no write.
  assert.equal(desiredPoolStatus(pool('a', ['10.0.0.0/24'], body), stats, [], undefined, new Date('2027-01-01T00:00:00Z')), undefined);
  // One more address used: a write, and the condition keeps its transition time.
  const next = desiredPoolStatus(pool('a', ['10.0.0.0/24'], body), [{ ...stats[0]!, used: 4, free: 250n }, stats[1]!], [], undefined, new Date('2027-01-01T00:00:00Z'));
  assert.deepEqual(next?.['ipv4'], { total: '254', used: '4', free: '250' });
  assert.equal((next['conditions'] as { lastTransitionTime: string }[])[0]?.lastTransitionTime, now.toISOString());
});

test('desiredPoolStatus: a pool left out says why (Conflict when it overlaps, Invalid otherwise) and has no usage', () => {
  const conflict = desiredPoolStatus(pool('b', ['10.0.0.0/25']), [], [{ pool: 'a', addresses: ['10.0.0.0/25'] }], 'pools a and b overlap at 10.0.0.0', now);
  assert.deepEqual(conflict?.['conflicts'], [{ pool: 'a', addresses: ['10.0.0.0/25'] }]);
  assert.equal(conflict['ipv4'], null);
  assert.deepEqual((conflict['conditions'] as { status: string; reason: string; message: string }[]).map((c) => [c.status, c.reason, c.message]), [['False', 'Conflict', 'pools a and b overlap at 10.0.0.0']]);
  const invalid = desiredPoolStatus(pool('c', ['x']), [], [], 'VIPPool c: spec.addresses[0] "x" is not a CIDR', now);
  assert.equal((invalid?.['conditions'] as { reason: string }[])[0]?.reason, 'Invalid');
});
