import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatIp, parseIp } from '../net/index.ts';
import { owners, ownershipHere, type L2VipSpec, type L2View } from './eligibility.ts';

const HOLD = 10_000;
const vips: L2VipSpec[] = Array.from({ length: 64 }, (_, i) => ({ vip: parseIp(`10.77.0.${i + 10}`), interface: 'eth0' }));

/** The view from `self` of a world where each node has been up since the time given (undefined: down). */
function viewFrom(self: string, upSince: Record<string, number | undefined>, nowMs: number): L2View {
  return {
    self,
    selfSinceMs: upSince[self]!,
    selfHealthy: true,
    peers: new Map(Object.entries(upSince).filter(([name]) => name !== self)),
    nowMs,
    holdDownMs: HOLD,
  };
}

/** Owner of each VIP in the view of each live node. */
function ownersSeenBy(upSince: Record<string, number | undefined>, nowMs: number): Map<string, (string | undefined)[]> {
  const live = Object.keys(upSince).filter((n) => upSince[n] !== undefined);
  return new Map(live.map((n) => [n, owners(viewFrom(n, upSince, nowMs), vips).map((o) => o.owner)]));
}

test('nodes that agree on who is up agree on every owner, and each VIP has one', () => {
  fc.assert(
    fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 30_000 }), { nil: undefined }), { minLength: 1, maxLength: 5 }), (times) => {
      const upSince = Object.fromEntries(times.map((t, i) => [`lb${i + 1}`, t]));
      const seen = [...ownersSeenBy(upSince, 30_000).values()];
      for (const other of seen.slice(1)) assert.deepEqual(other, seen[0]);
    }),
  );
});

test('nodes that start together share the VIPs at once (none settled)', () => {
  const seen = ownersSeenBy({ lb1: 0, lb2: 0 }, 100);
  const owned = seen.get('lb1')!;
  assert.ok(owned.includes('lb1') && owned.includes('lb2'));
});

test('a node that returns takes its VIPs back only after the hold-down', () => {
  // lb2 was down; it came back at 20 s; lb1 has been up all along.
  const during = ownersSeenBy({ lb1: 0, lb2: 20_000 }, 25_000);
  assert.ok(during.get('lb1')!.every((o) => o === 'lb1'), 'lb1 keeps every VIP during the hold-down');
  assert.deepEqual(during.get('lb2'), during.get('lb1'), 'and lb2 agrees');
  const afterwards = ownersSeenBy({ lb1: 0, lb2: 20_000 }, 30_000);
  assert.ok(afterwards.get('lb1')!.includes('lb2'));
});

test('a dead owner is replaced at once, by the next node in its ranking', () => {
  const both = owners(viewFrom('lb1', { lb1: 0, lb2: 0 }, 60_000), vips);
  const alone = owners(viewFrom('lb1', { lb1: 0, lb2: undefined }, 60_000), vips);
  for (const [i, o] of both.entries()) {
    assert.equal(alone[i]!.owner, 'lb1', `${formatIp(o.vip)}: lb1 takes it`);
    if (o.owner === 'lb1') assert.deepEqual(alone[i]!.ranked, ['lb1'], 'nothing moves for the VIPs lb1 had');
  }
});

test('an unhealthy node answers for nothing; a VIP only some nodes can serve goes to one of them', () => {
  const sick = { ...viewFrom('lb1', { lb1: 0, lb2: 0 }, 60_000), selfHealthy: false };
  assert.deepEqual(ownershipHere(sick, vips), { interfaces: [{ name: 'eth0', vips: [] }] });
  const localOnly = owners(viewFrom('lb1', { lb1: 0, lb2: 0 }, 60_000), vips.map((v) => ({ ...v, servers: ['lb2'] })));
  assert.ok(localOnly.every((o) => o.owner === 'lb2'));
  const nobody = owners(viewFrom('lb1', { lb1: 0, lb2: 0 }, 60_000), vips.map((v) => ({ ...v, servers: [] })));
  assert.ok(nobody.every((o) => o.owner === undefined));
});

test('nodes that start a little apart (within the hold-down) move no VIP when the first one settles', () => {
  const upSince = { lb1: 0, lb2: 4_000 }; // lb2 starts 4 s after lb1, hold-down 10 s
  const at = (nowMs: number): (string | undefined)[] => ownersSeenBy(upSince, nowMs).get('lb1')!;
  const shared = at(5_000);
  assert.ok(shared.includes('lb2'), 'lb2 takes its share at once');
  for (const t of [9_999, 10_000, 12_000, 14_000, 30_000]) assert.deepEqual(at(t), shared, `at ${t} ms`);
  assert.deepEqual(ownersSeenBy(upSince, 12_000).get('lb2'), shared, 'both agree');
});

test('a node that returns to nodes up for longer than the hold-down waits it out, then takes its VIPs once', () => {
  const upSince = { lb1: 0, lb2: 60_000 };
  const before = ownersSeenBy({ lb1: 0 }, 60_000).get('lb1')!;
  assert.deepEqual(ownersSeenBy(upSince, 65_000).get('lb1'), before, 'lb1 keeps everything during lb2\'s hold-down');
  const after = ownersSeenBy(upSince, 70_000).get('lb1')!;
  assert.ok(after.includes('lb2'));
  assert.deepEqual(ownersSeenBy(upSince, 90_000).get('lb1'), after);
});
