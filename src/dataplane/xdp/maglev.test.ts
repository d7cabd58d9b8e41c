import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAGLEV_DEFAULT_SIZE, isPrime, maglevTable, maglevTableSize, type MaglevBackend } from './maglev.ts';
import { XdpError } from './errors.ts';

function ids(n: number, weight = 1): MaglevBackend[] {
  return Array.from({ length: n }, (_, i) => ({ id: `10.100.${i >> 8}.${i & 255}:8080`, weight }));
}

function shares(table: Uint32Array, n: number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (const b of table) counts[b]! += 1;
  return counts.map((c) => c / table.length);
}

test('table sizes: prime, ≥ 100 × backends, 65,537 once a service is large', () => {
  assert.equal(maglevTableSize(1), 101);
  assert.equal(maglevTableSize(10), 1009);
  assert.equal(maglevTableSize(17), MAGLEV_DEFAULT_SIZE);
  assert.equal(maglevTableSize(1000), 100_003);
  for (const n of [1, 2, 3, 7, 16, 17, 100, 700]) {
    const size = maglevTableSize(n);
    assert.ok(isPrime(size) && size >= 100 * n, `${n} backends → ${size}`);
  }
});

test('balance at the default size: each backend within 1% of its weighted share', () => {
  const backends = ids(37).map((b, i) => ({ ...b, weight: 1 + (i % 5) }));
  const total = backends.reduce((s, b) => s + b.weight, 0);
  const got = shares(maglevTable(backends, MAGLEV_DEFAULT_SIZE), backends.length);
  for (const [i, b] of backends.entries()) {
    const want = b.weight / total;
    assert.ok(Math.abs(got[i]! - want) <= 0.01 * want, `${b.id}: share ${got[i]} vs weight share ${want}`);
  }
});

test('balance holds for random weights at the default size (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 40 }), (weights) => {
      const backends = weights.map((weight, i) => ({ id: `b${i}`, weight }));
      const total = weights.reduce((s, w) => s + w, 0);
      const got = shares(maglevTable(backends, MAGLEV_DEFAULT_SIZE), backends.length);
      return backends.every((b, i) => Math.abs(got[i]! - b.weight / total) <= 0.01 * (b.weight / total));
    }),
    { numRuns: 30 },
  );
});

test('small services: 100 slots per backend keep shares within 1% of even', () => {
  const got = shares(maglevTable(ids(10)), 10);
  for (const s of got) assert.ok(Math.abs(s - 0.1) <= 0.001, `share ${s}`);
});

test('minimal disruption: removing one of N moves about 1/N of the table', () => {
  for (const n of [5, 10, 50]) {
    const backends = ids(n);
    const size = MAGLEV_DEFAULT_SIZE;
    const before = maglevTable(backends, size);
    const removed = 3;
    const after = maglevTable(backends.filter((_, i) => i !== removed), size);
    let moved = 0;
    let movedOther = 0;
    for (let i = 0; i < size; i++) {
      const was = backends[before[i]!]!.id;
      const now = backends.filter((_, j) => j !== removed)[after[i]!]!.id;
      if (was !== now) {
        moved++;
        if (before[i] !== removed) movedOther++;
      }
    }
    // Everything the removed backend held must move; the rest should barely move (paper §5.3).
    assert.ok(moved / size >= 1 / n - 0.01, `n=${n}: moved ${moved / size}`);
    assert.ok(moved / size <= 1.5 / n, `n=${n}: moved ${moved / size}, want ≈ ${1 / n}`);
    assert.ok(movedOther / size <= 0.5 / n, `n=${n}: ${movedOther / size} of flows to surviving backends moved`);
  }
});

test('deterministic and independent of input order (property)', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 12 }), (names) => {
      const backends = names.map((id) => ({ id, weight: 1 }));
      const a = maglevTable(backends);
      const reversed = [...backends].reverse();
      const b = maglevTable(reversed);
      // Same backend at every slot, whichever order the caller listed them in.
      for (let i = 0; i < a.length; i++) if (backends[a[i]!]!.id !== reversed[b[i]!]!.id) return false;
      return a.every((x) => x < backends.length);
    }),
    { numRuns: 50 },
  );
});

test('bad input names what is wrong', () => {
  assert.throws(() => maglevTable([]), (e: unknown) => e instanceof XdpError && e.code === 'XDP_BAD_MAGLEV_INPUT');
  assert.throws(() => maglevTable(ids(2), 100), /prime/);
  assert.throws(() => maglevTable([{ id: 'a', weight: 0 }]), /weight must be a positive integer/);
  assert.throws(() => maglevTable([{ id: 'a', weight: 1 }, { id: 'a', weight: 1 }]), /listed twice/);
});
