import { formatIp, type Family } from '../net/index.ts';
import { MinHeap } from './min-heap.ts';

/** One pool entry ("10.200.0.0/24" or "10.200.1.10-10.200.1.20") as an inclusive range. */
export interface Segment {
  readonly first: bigint;
  readonly last: bigint;
  /** The entry as the operator wrote it, for messages. */
  readonly text: string;
}

/**
 * The addresses of one family in one pool, and which of them are taken.
 *
 * Finding the lowest free address must not scan the pool: a /16 with 10,000 Services would
 * cost ~10^8 steps to fill. Instead a cursor walks the pool once, upwards; every address
 * below it is taken, reserved, or waiting in `#freed` (released after the cursor passed it).
 * So the lowest free address is the smallest of `#freed`, else the first free address at or
 * after the cursor — amortised O(1) per allocation, O(log n) after releases, and no bitmap,
 * which matters for a /64 of 2^64 addresses.
 */
export class AddressSpace {
  readonly #segments: readonly Segment[];
  /** value → why it is reserved ("network address of 10.200.0.0/24"). */
  readonly #reserved: ReadonlyMap<bigint, string>;
  readonly #avoidBuggyIPs: boolean;
  readonly #used = new Set<bigint>();
  readonly #freed = new MinHeap();
  #segmentIndex = 0;
  #cursor: bigint;
  #probes = 0;
  /** Addresses that can ever be handed out (reserved ones excluded). */
  readonly total: bigint;

  constructor(
    readonly pool: string,
    readonly family: Family,
    segments: readonly Segment[],
    reserved: ReadonlyMap<bigint, string>,
    avoidBuggyIPs: boolean,
  ) {
    this.#segments = [...segments].sort((a, b) => (a.first < b.first ? -1 : 1));
    this.#avoidBuggyIPs = avoidBuggyIPs && family === 4;
    const inside = new Map<bigint, string>();
    for (const [value, why] of reserved) if (this.contains(value)) inside.set(value, why);
    this.#reserved = inside;
    this.#cursor = this.#segments[0]?.first ?? 0n;
    let total = 0n;
    for (const s of this.#segments) total += s.last - s.first + 1n - this.#buggyCount(s.first, s.last);
    for (const value of inside.keys()) if (!this.#isBuggy(value)) total -= 1n;
    this.total = total;
  }

  /** The pool's entries of this family, for messages: "10.200.0.0/30, 10.200.1.0/24". */
  describe(): string {
    return this.#segments.map((s) => s.text).join(', ');
  }

  /**
   * How many addresses the cursor has examined so far. It only moves forward, so this stays
   * below the pool's size plus one per `lowestFree` call: tests use it to prove allocation
   * cost does not grow with the number of Services already served.
   */
  get probes(): number {
    return this.#probes;
  }

  get used(): number {
    return this.#used.size;
  }

  get free(): bigint {
    return this.total - BigInt(this.#used.size);
  }

  contains(value: bigint): boolean {
    let lo = 0;
    let hi = this.#segments.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.#segments[mid]!;
      if (value < s.first) hi = mid - 1;
      else if (value > s.last) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** Why the address may never be handed out, or undefined if it may. */
  reservedReason(value: bigint): string | undefined {
    const why = this.#reserved.get(value);
    if (why !== undefined) return why;
    if (this.#isBuggy(value)) return `pool ${this.pool} avoids addresses ending in .0 and .255 (avoidBuggyIPs)`;
    return undefined;
  }

  isUsed(value: bigint): boolean {
    return this.#used.has(value);
  }

  /** Marks a free, unreserved address of this space as taken. */
  take(value: bigint): void {
    if (!this.contains(value) || this.#used.has(value) || this.reservedReason(value) !== undefined) {
      // The allocator checks all of this first; getting here means its books are wrong.
      throw new Error(`ipam invariant: ${formatIp({ family: this.family, value })} cannot be taken in pool ${this.pool}`);
    }
    this.#used.add(value);
  }

  release(value: bigint): void {
    if (!this.#used.delete(value)) return;
    // At or above the cursor the walk will find it again; below, it must be remembered.
    if (value < this.#cursor) this.#freed.push(value);
  }

  /** The lowest address that is neither taken nor reserved, without taking it. */
  lowestFree(): bigint | undefined {
    for (let v = this.#freed.peek(); v !== undefined; v = this.#freed.peek()) {
      // Entries are dropped lazily: one may have been taken again by a request or a restore.
      if (!this.#used.has(v)) return v;
      this.#freed.pop();
    }
    while (this.#segmentIndex < this.#segments.length) {
      const segment = this.#segments[this.#segmentIndex]!;
      if (this.#cursor > segment.last) {
        this.#segmentIndex++;
        const next = this.#segments[this.#segmentIndex];
        if (next !== undefined) this.#cursor = next.first;
        continue;
      }
      const v = this.#cursor;
      this.#probes++;
      if (!this.#used.has(v) && this.reservedReason(v) === undefined) return v;
      this.#cursor = v + 1n;
    }
    return undefined;
  }

  #isBuggy(value: bigint): boolean {
    if (!this.#avoidBuggyIPs) return false;
    const low = value & 0xffn;
    return low === 0n || low === 0xffn;
  }

  /** How many addresses in [first, last] end in .0 or .255 (when they are avoided). */
  #buggyCount(first: bigint, last: bigint): bigint {
    if (!this.#avoidBuggyIPs) return 0n;
    const upTo = (x: bigint, r: bigint): bigint => (x < r ? 0n : (x - r) / 256n + 1n);
    return upTo(last, 0n) - upTo(first - 1n, 0n) + upTo(last, 255n) - upTo(first - 1n, 255n);
  }
}
