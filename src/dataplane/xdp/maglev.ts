// Maglev consistent hashing (Eisenbud et al., NSDI 2016, §3.4), with weights. Computed here in
// TypeScript; the BPF program only indexes the finished table (the Katran split).
import { XdpError, XdpErrorCode } from './errors.ts';

/** Table size for services too large for the 100 × backends rule to stay small (paper: 65,537). */
export const MAGLEV_DEFAULT_SIZE = 65_537;
/**
 * Services with at most this many backends get the smallest prime ≥ 100 × backends instead: a
 * 10-backend service then costs 4 KiB of kernel memory instead of 256 KiB, which matters at
 * 10,000 services, and 100 slots per backend keeps each share within 1% of its weight.
 */
export const SMALL_SERVICE_MAX_BACKENDS = 16;
/** Slots per backend the paper recommends as the minimum (M ≥ 100 × N). */
export const SLOTS_PER_BACKEND = 100;

export interface MaglevBackend {
  /** Stable identity (e.g. `10.100.1.41:80`): its two hashes fix the backend's permutation. */
  readonly id: string;
  /** Positive integer: turns per round, so the share of the table is weight / Σ weights. */
  readonly weight: number;
}

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

export function nextPrime(n: number): number {
  let p = Math.max(2, Math.ceil(n));
  while (!isPrime(p)) p++;
  return p;
}

/** The table size used for a service with this many backends (see SMALL_SERVICE_MAX_BACKENDS). */
export function maglevTableSize(backendCount: number): number {
  const floor = nextPrime(SLOTS_PER_BACKEND * Math.max(1, backendCount));
  return backendCount <= SMALL_SERVICE_MAX_BACKENDS ? floor : Math.max(MAGLEV_DEFAULT_SIZE, floor);
}

/** FNV-1a over UTF-16 code units, from a given basis: two bases give two independent-enough hashes. */
function fnv1a(text: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // murmur3's finaliser: FNV alone leaves ids that differ in one last digit with close hashes.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Builds the lookup table: entry `i` is the index (into `backends`) of the backend that takes
 * flows hashing to `i`. Deterministic: the same backend set gives the same table on every LB
 * node and in every process, whatever the input order. Removing one of N backends moves about
 * 1/N of the entries (those it held, plus a few).
 */
export function maglevTable(backends: readonly MaglevBackend[], size: number = maglevTableSize(backends.length)): Uint32Array {
  if (backends.length === 0) {
    throw new XdpError(XdpErrorCode.badMaglevInput, 'Maglev needs at least one backend');
  }
  if (!isPrime(size) || size < backends.length) {
    throw new XdpError(XdpErrorCode.badMaglevInput, `Maglev table size must be a prime ≥ the backend count (${backends.length}), got ${size}`);
  }
  const seen = new Set<string>();
  for (const b of backends) {
    if (!Number.isSafeInteger(b.weight) || b.weight < 1) {
      throw new XdpError(XdpErrorCode.badMaglevInput, `backend ${b.id}: weight must be a positive integer, got ${b.weight}`);
    }
    if (seen.has(b.id)) throw new XdpError(XdpErrorCode.badMaglevInput, `backend ${b.id} is listed twice`);
    seen.add(b.id);
  }
  // Fill order is part of the result; sorting by id makes it independent of input order.
  const order = backends.map((b, i) => ({ id: b.id, index: i, weight: b.weight })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Dividing by the gcd keeps rounds short without changing shares.
  const divisor = order.reduce((g, b) => gcd(g, b.weight), 0);
  // pos[k] is backend k's next candidate, permutation[j] = (offset + j × skip) mod M, advanced by
  // one addition (M is prime, so it visits every slot once): the hot loop of a 10k-service load.
  const pos = new Uint32Array(order.length);
  const skip = new Uint32Array(order.length);
  const turns = new Float64Array(order.length);
  const index = new Uint32Array(order.length);
  for (const [k, b] of order.entries()) {
    pos[k] = fnv1a(b.id, 0x811c9dc5) % size;
    skip[k] = (fnv1a(b.id, 0x5bd1e995) % (size - 1)) + 1;
    turns[k] = b.weight / divisor;
    index[k] = b.index;
  }
  const unset = 0xffffffff;
  const table = new Uint32Array(size).fill(unset);
  let filled = 0;
  for (;;) {
    for (let k = 0; k < order.length; k++) {
      const step = skip[k]!;
      let p = pos[k]!;
      for (let turn = turns[k]!; turn > 0; turn--) {
        while (table[p] !== unset) {
          p += step;
          if (p >= size) p -= size;
        }
        table[p] = index[k]!;
        p += step;
        if (p >= size) p -= size;
        if (++filled === size) return table;
      }
      pos[k] = p;
    }
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
