import type { Pool } from '../model/index.ts';
import {
  NetError,
  formatIp,
  parseCidr,
  parseIp,
  parseRange,
  type Family,
  type IpAddress,
} from '../net/index.ts';
import { AddressSpace, type Segment } from './address-space.ts';
import { IpamError, IpamErrorCode } from './errors.ts';
import { selectorMatches } from './selector.ts';

/** A validated pool with its address spaces (one per family it has addresses of). */
export interface PoolEntry {
  readonly pool: Pool;
  readonly spaces: ReadonlyMap<Family, AddressSpace>;
}

/**
 * Whether the pool's serviceSelector picks a Service with these labels; no selector picks all.
 * It governs which pool a load-balancer VIP comes from; external IP claims are governed by
 * allowExternalIPs and namespaces alone, as the admission policy sees them.
 */
export function selectsService(pool: Pool, labels: Readonly<Record<string, string>> | undefined): boolean {
  return pool.serviceSelector === undefined || selectorMatches(pool.serviceSelector, labels ?? {});
}

/** `app=web, tier in (a, b)`: a selector as a person writes it, for messages. */
export function describeSelector(pool: Pool): string {
  const s = pool.serviceSelector ?? {};
  const terms = [
    ...Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(s.matchExpressions ?? []).map((e) => (e.operator === 'Exists' ? e.key : e.operator === 'DoesNotExist' ? `!${e.key}` : `${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${(e.values ?? []).join(', ')})`)),
  ];
  return terms.join(', ') || 'any labels';
}

/** An empty namespace list means every namespace may use the pool. */
export function admitsNamespace(pool: Pool, namespace: string): boolean {
  return pool.namespaces.length === 0 || pool.namespaces.includes(namespace);
}

/** Higher priority first, then name; code-unit order so the result never depends on locale. */
export function comparePools(a: Pool, b: Pool): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

interface LocatedSegment extends Segment {
  readonly family: Family;
  readonly pool: string;
  readonly field: string;
}

function badPool(pool: string, field: string, message: string, cause?: unknown): IpamError {
  return new IpamError(IpamErrorCode.badPool, `pool ${pool}: ${field} ${message}`, { pool, field, cause });
}

/**
 * Implicit reserves of a CIDR entry. IPv4 up to /30: network and broadcast (a /31 or /32 has
 * neither, RFC 3021). IPv6 up to /126: the all-zeros Subnet-Router anycast address
 * (RFC 4291 §2.6.1); /127 and /128 keep it usable, as RFC 6164 does for point-to-point links.
 */
function implicitReserves(text: string, reserved: Map<bigint, string>): void {
  if (text.includes('-')) return; // "first-last" ranges say exactly what is usable
  const cidr = parseCidr(text);
  const range = parseRange(text);
  if (cidr.family === 4 && cidr.prefixLength <= 30) {
    reserved.set(range.first, `it is the network address of ${text}`);
    reserved.set(range.last, `it is the broadcast address of ${text}`);
  } else if (cidr.family === 6 && cidr.prefixLength <= 126) {
    reserved.set(range.first, `it is the Subnet-Router anycast address of ${text} (RFC 4291 §2.6.1)`);
  }
}

function familyMap(byFamily: Map<Family, Map<bigint, string>>, family: Family): Map<bigint, string> {
  let m = byFamily.get(family);
  if (m === undefined) {
    m = new Map<bigint, string>();
    byFamily.set(family, m);
  }
  return m;
}

function compileOne(pool: Pool, segments: LocatedSegment[]): PoolEntry {
  const name = pool.name;
  if (!Number.isFinite(pool.priority)) {
    throw badPool(name, 'priority', `is ${pool.priority}; it must be a finite number`);
  }
  if (pool.addresses.length === 0) {
    throw badPool(name, 'addresses', 'is empty; give at least one CIDR or first-last range');
  }
  const bySegmentFamily = new Map<Family, Segment[]>();
  const reservedByFamily = new Map<Family, Map<bigint, string>>();
  pool.addresses.forEach((text, i) => {
    const field = `addresses[${i}]`;
    try {
      const range = parseRange(text);
      const segment: LocatedSegment = { first: range.first, last: range.last, text, family: range.family, pool: name, field };
      segments.push(segment);
      const list = bySegmentFamily.get(range.family) ?? [];
      list.push(segment);
      bySegmentFamily.set(range.family, list);
      implicitReserves(text, familyMap(reservedByFamily, range.family));
    } catch (e) {
      if (!(e instanceof NetError)) throw e;
      throw badPool(name, field, `"${text}" is not usable: ${e.message}; use a CIDR (10.200.0.0/24) or a range (10.200.0.10-10.200.0.20)`, e);
    }
  });
  pool.reserved.forEach((text, i) => {
    let address: IpAddress;
    try {
      address = parseIp(text);
    } catch (e) {
      throw badPool(name, `reserved[${i}]`, `"${text}" is not an IPv4 or IPv6 address`, e);
    }
    // A reserved address outside the pool is allowed and ignored: one gateway list may be
    // shared by every pool.
    familyMap(reservedByFamily, address.family).set(address.value, `pool ${name} reserves it (reserved[${i}])`);
  });
  const spaces = new Map<Family, AddressSpace>();
  for (const family of [4, 6] as const) {
    const list = bySegmentFamily.get(family);
    if (list === undefined) continue;
    const res = reservedByFamily.get(family) ?? new Map<bigint, string>();
    spaces.set(family, new AddressSpace(name, family, list, res, pool.avoidBuggyIPs));
  }
  return { pool, spaces };
}

function checkOverlaps(segments: LocatedSegment[]): void {
  const sorted = [...segments].sort((a, b) => a.family - b.family || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a.family !== b.family || b.first > a.last) continue;
    const where = a.pool === b.pool ? `pool ${a.pool}` : `pools ${a.pool} and ${b.pool}`;
    throw new IpamError(
      IpamErrorCode.poolOverlap,
      `${where}: ${a.field} (${a.text}) and ${b.field} (${b.text}) overlap at ${formatIp({ family: b.family, value: b.first })}; every address must belong to exactly one pool`,
      { pool: b.pool, field: b.field },
    );
  }
}

/** Validated pools in preference order, with lookups by name and by address. */
export class PoolCatalog {
  /** Higher priority first, then name. */
  readonly ordered: readonly PoolEntry[];
  readonly #byName: ReadonlyMap<string, PoolEntry>;

  /** Throws IpamError (IPAM_BAD_POOL, IPAM_POOL_OVERLAP) naming the pool and the field. */
  constructor(pools: readonly Pool[]) {
    const byName = new Map<string, PoolEntry>();
    const segments: LocatedSegment[] = [];
    pools.forEach((pool, i) => {
      if (pool.name === '') throw badPool(`#${i}`, 'name', 'is empty; every pool needs a name');
      if (byName.has(pool.name)) throw badPool(pool.name, 'name', 'is used by two pools; names must be unique');
      byName.set(pool.name, compileOne(pool, segments));
    });
    checkOverlaps(segments);
    this.#byName = byName;
    this.ordered = [...byName.values()].sort((a, b) => comparePools(a.pool, b.pool));
  }

  byName(name: string): PoolEntry | undefined {
    return this.#byName.get(name);
  }

  /** The pool (and its space) holding the address; pools never overlap, so there is one at most. */
  locate(address: IpAddress): { entry: PoolEntry; space: AddressSpace } | undefined {
    for (const entry of this.ordered) {
      const space = entry.spaces.get(address.family);
      if (space?.contains(address.value) === true) return { entry, space };
    }
    return undefined;
  }
}
