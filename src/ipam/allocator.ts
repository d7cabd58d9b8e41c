import type { Pool } from '../model/index.ts';
import { formatIp, tryParseIp, type Family, type IpAddress } from '../net/index.ts';
import { IpamError, IpamErrorCode } from './errors.ts';
import { Holdings, type HeldAddress, type Holding } from './holdings.ts';
import { PoolCatalog, admitsNamespace, describeSelector, selectsService, type PoolEntry } from './pools.ts';
import { normalizeRequest, type AllocationRequest, type AllocationResult, type NormalizedRequest } from './request.ts';

export interface PoolStats {
  readonly pool: string;
  readonly family: Family;
  /** Addresses that can be handed out (reserved ones not counted). */
  readonly total: bigint;
  /** Addresses held by at least one Service. */
  readonly used: number;
  readonly free: bigint;
}

export type ExternalIPVerdict = { readonly ok: true; readonly pool: string } | { readonly ok: false; readonly error: IpamError };

function fail(error: IpamError): AllocationResult {
  return { ok: false, error };
}

/** "default (10.200.0.0/30)" and "2 of 2 in use", for exhaustion messages. */
function usage(entry: PoolEntry, family: Family): { pool: string; inUse: string } {
  const space = entry.spaces.get(family)!;
  return { pool: `${entry.pool.name} (${space.describe()})`, inUse: `${space.total - space.free} of ${space.total} in use` };
}

/**
 * Hands out VIPs from pools. Pure bookkeeping, no I/O: the truth is the Services' status,
 * which a restarted controller feeds back through `restore` (or `allocateAll`) before it
 * allocates anything new, so no address in use is ever moved or handed out twice.
 */
export class Allocator {
  readonly #pools: PoolCatalog;
  readonly #holdings = new Holdings();

  /** Throws IpamError (IPAM_BAD_POOL, IPAM_POOL_OVERLAP) naming the pool and field at fault. */
  constructor(pools: readonly Pool[]) {
    this.#pools = new PoolCatalog(pools);
  }

  /**
   * Records addresses a Service already has (from its status or a state file) without
   * choosing. They may cover only some of the request's families (`allocate` adds the rest).
   * Refuses, changing nothing, if any address is unusable for this request or held in a way
   * that cannot be shared: an address is never given twice.
   */
  restore(request: AllocationRequest, addresses: readonly string[]): AllocationResult {
    const norm = normalizeRequest(request);
    if (norm instanceof IpamError) return fail(norm);
    const held: HeldAddress[] = [];
    for (const [i, text] of addresses.entries()) {
      const address = tryParseIp(text);
      if (address === undefined) {
        return fail(new IpamError(IpamErrorCode.badRequest, `service ${request.service}: restored address "${text}" is not an IPv4 or IPv6 address`, { field: `addresses[${i}]` }));
      }
      const wanted = norm.requestedByFamily.get(address.family);
      if (!norm.families.includes(address.family) || held.some((h) => h.address.family === address.family)) {
        return fail(new IpamError(IpamErrorCode.badRequest, `service ${request.service}: cannot restore ${formatIp(address)}: the service asks for one address per family in IPv${norm.families.join(' and IPv')}`, { field: `addresses[${i}]`, address: formatIp(address) }));
      }
      if (wanted !== undefined && wanted.value !== address.value) {
        return fail(new IpamError(IpamErrorCode.badRequest, `service ${request.service}: cannot restore ${formatIp(address)}: the service now requests ${formatIp(wanted)}`, { field: `addresses[${i}]`, address: formatIp(address) }));
      }
      const checked = this.#check(norm, address);
      if (checked instanceof IpamError) return fail(checked);
      held.push(checked);
    }
    if (held.length === 0) {
      this.#holdings.drop(request.service);
      return { ok: true, addresses: [] };
    }
    return { ok: true, addresses: this.#commit(norm, held) };
  }

  /**
   * Gives the Service one address per requested family. Idempotent: addresses it already
   * holds that still satisfy the request are kept unchanged; only missing families get new
   * ones. All families or none: on any error the Service is left holding nothing, so a
   * half-served dual-stack Service never lingers (and its old addresses return to the pool).
   */
  allocate(request: AllocationRequest): AllocationResult {
    const norm = normalizeRequest(request);
    if (norm instanceof IpamError) {
      this.#holdings.drop(request.service);
      return fail(norm);
    }
    const current = this.#holdings.get(request.service);
    const planned: HeldAddress[] = [];
    for (const family of norm.families) {
      const next = this.#plan(norm, family, current);
      if (next instanceof IpamError) {
        this.#holdings.drop(request.service);
        return fail(next);
      }
      planned.push(next);
    }
    return { ok: true, addresses: this.#commit(norm, planned) };
  }

  /** Forgets the Service; its addresses return to their pools once no one else shares them. */
  release(service: string): void {
    this.#holdings.drop(service);
  }

  /** service → its addresses (canonical, IPv4 first), in service-key order. */
  assignments(): ReadonlyMap<string, readonly string[]> {
    const rows = [...this.#holdings.services()].sort((a, b) => (a.service < b.service ? -1 : 1));
    return new Map(rows.map((h) => [h.service, h.addresses.map((a) => a.text)]));
  }

  /**
   * The CVE-2020-8554 policy for `spec.externalIPs`: an address may be served only if it lies
   * in a pool with `allowExternalIPs` that admits the namespace, is not reserved, and is not a
   * load-balancer VIP of another Service (whatever the sharing key: external IPs are claimed by
   * the user, not assigned, so they do not join a VIP's sharing). External IPs are checked,
   * not recorded; two Services naming the same external IP are kube-proxy's usual semantics.
   */
  externalIPAllowed(namespace: string, address: string, service: string): ExternalIPVerdict {
    const ip = tryParseIp(address);
    const notAllowed = (why: string, pool?: string): ExternalIPVerdict => ({
      ok: false,
      error: new IpamError(IpamErrorCode.externalIPNotAllowed, `service ${service}: external IP ${address} is not allowed: ${why}`, {
        address,
        ...(pool === undefined ? {} : { pool }),
      }),
    });
    if (ip === undefined) return notAllowed('it is not an IPv4 or IPv6 address');
    const text = formatIp(ip);
    const located = this.#pools.locate(ip);
    const allowing = this.#pools.ordered.filter((e) => e.pool.allowExternalIPs && admitsNamespace(e.pool, namespace)).map((e) => e.pool.name);
    const hint = allowing.length === 0 ? `no pool allows external IPs for namespace ${namespace}` : `pools allowing external IPs for namespace ${namespace}: ${allowing.join(', ')}`;
    if (located === undefined) return notAllowed(`it is in no pool; ${hint}`);
    const { entry, space } = located;
    if (!entry.pool.allowExternalIPs) return notAllowed(`pool ${entry.pool.name} does not set allowExternalIPs; ${hint}`, entry.pool.name);
    if (!admitsNamespace(entry.pool, namespace)) {
      return notAllowed(`pool ${entry.pool.name} admits namespaces ${entry.pool.namespaces.join(', ')} only`, entry.pool.name);
    }
    const why = space.reservedReason(ip.value);
    if (why !== undefined) {
      return { ok: false, error: new IpamError(IpamErrorCode.reserved, `service ${service}: external IP ${text} cannot be used: ${why}`, { address: text, pool: entry.pool.name }) };
    }
    const holder = this.#holdings.holdersOf(text).find((s) => s !== service);
    if (holder !== undefined) {
      return {
        ok: false,
        error: new IpamError(IpamErrorCode.addressInUse, `service ${service}: external IP ${text} is the load-balancer address of ${holder}`, { address: text, holder, pool: entry.pool.name }),
      };
    }
    return { ok: true, pool: entry.pool.name };
  }

  /** Per pool and family, in pool preference order. */
  poolStats(): readonly PoolStats[] {
    const rows: PoolStats[] = [];
    for (const entry of this.#pools.ordered) {
      for (const [family, space] of entry.spaces) {
        rows.push({ pool: entry.pool.name, family, total: space.total, used: space.used, free: space.free });
      }
    }
    return rows;
  }

  #commit(norm: NormalizedRequest, addresses: HeldAddress[]): readonly string[] {
    const holding: Holding = {
      service: norm.request.service,
      namespace: norm.request.namespace,
      sharingKey: norm.request.sharingKey,
      ports: norm.ports,
      addresses: addresses.sort((a, b) => a.address.family - b.address.family),
    };
    this.#holdings.hold(holding);
    return holding.addresses.map((a) => a.text);
  }

  /** The address this Service should have for `family`: requested, kept, shared or fresh. */
  #plan(norm: NormalizedRequest, family: Family, current: Holding | undefined): HeldAddress | IpamError {
    const wanted = norm.requestedByFamily.get(family);
    if (wanted !== undefined) return this.#check(norm, wanted);
    const kept = current?.addresses.find((a) => a.address.family === family);
    if (kept !== undefined && !(this.#check(norm, kept.address) instanceof IpamError)) return kept;
    return this.#choose(norm, family);
  }

  /** Whether this Service may hold this address: right pool, namespace, not reserved, shareable. */
  #check(norm: NormalizedRequest, address: IpAddress): HeldAddress | IpamError {
    const { request } = norm;
    const text = formatIp(address);
    const located = this.#pools.locate(address);
    if (located === undefined || (request.pool !== undefined && located.entry.pool.name !== request.pool)) {
      const usable = this.#usablePools(norm).map((e) => e.pool.name);
      const where = located === undefined ? 'it is in no pool' : `it is in pool ${located.entry.pool.name}`;
      const allowed = request.pool !== undefined ? `the service asks for pool ${request.pool}` : usable.length === 0 ? `no pool admits namespace ${request.namespace}` : `pools for namespace ${request.namespace}: ${usable.join(', ')}`;
      return new IpamError(IpamErrorCode.notInPool, `service ${request.service}: cannot use ${text}: ${where}; ${allowed}`, { address: text });
    }
    const { entry, space } = located;
    if (!admitsNamespace(entry.pool, request.namespace)) {
      return new IpamError(IpamErrorCode.namespaceNotAllowed, `service ${request.service}: cannot use ${text}: pool ${entry.pool.name} admits namespaces ${entry.pool.namespaces.join(', ')} only`, { address: text, pool: entry.pool.name });
    }
    if (!selectsService(entry.pool, request.labels)) {
      return new IpamError(IpamErrorCode.serviceNotSelected, `service ${request.service}: cannot use ${text}: pool ${entry.pool.name} selects Services labelled ${describeSelector(entry.pool)} only`, { address: text, pool: entry.pool.name });
    }
    const why = space.reservedReason(address.value);
    if (why !== undefined) {
      return new IpamError(IpamErrorCode.reserved, `service ${request.service}: cannot use ${text}: ${why}`, { address: text, pool: entry.pool.name });
    }
    const clash = this.#holdings.conflict({ service: request.service, sharingKey: request.sharingKey, ports: norm.ports }, text);
    if (clash !== undefined) return clash;
    return { address, text, entry, space };
  }

  /** Pools any address of this Service may come from (requested ones need not auto-assign). */
  #usablePools(norm: NormalizedRequest): PoolEntry[] {
    const { request } = norm;
    return this.#pools.ordered.filter((e) => (request.pool === undefined || e.pool.name === request.pool) && admitsNamespace(e.pool, request.namespace) && selectsService(e.pool, request.labels));
  }

  /** Pools automatic allocation may draw from, in preference order. */
  #candidatePools(norm: NormalizedRequest): PoolEntry[] | IpamError {
    const { request } = norm;
    if (request.pool !== undefined) {
      const entry = this.#pools.byName(request.pool);
      if (entry === undefined) {
        const names = this.#pools.ordered.map((e) => e.pool.name);
        return new IpamError(IpamErrorCode.noPool, `service ${request.service}: there is no pool named "${request.pool}"; pools are: ${names.join(', ') || 'none'}`, { pool: request.pool, field: 'pool' });
      }
      if (!admitsNamespace(entry.pool, request.namespace)) {
        return new IpamError(IpamErrorCode.namespaceNotAllowed, `service ${request.service}: pool ${request.pool} admits namespaces ${entry.pool.namespaces.join(', ')} only, not ${request.namespace}`, { pool: request.pool, field: 'pool' });
      }
      if (!selectsService(entry.pool, request.labels)) {
        return new IpamError(IpamErrorCode.serviceNotSelected, `service ${request.service}: pool ${request.pool} selects Services labelled ${describeSelector(entry.pool)} only`, { pool: request.pool, field: 'pool' });
      }
      return [entry];
    }
    const auto = this.#pools.ordered.filter((e) => e.pool.autoAssign && admitsNamespace(e.pool, request.namespace) && selectsService(e.pool, request.labels));
    if (auto.length === 0) {
      const bySelector = this.#pools.ordered.some((e) => e.pool.autoAssign && admitsNamespace(e.pool, request.namespace));
      const why = bySelector ? `admits namespace ${request.namespace} and selects the service's labels` : `admits namespace ${request.namespace}`;
      return new IpamError(IpamErrorCode.noPool, `service ${request.service}: no pool with autoAssign ${why}; name a pool or request an address`, { field: 'pool' });
    }
    return auto;
  }

  /** A shared address under the Service's key if one fits, else the lowest free one. */
  #choose(norm: NormalizedRequest, family: Family): HeldAddress | IpamError {
    const { request } = norm;
    const candidates = this.#candidatePools(norm);
    if (candidates instanceof IpamError) return candidates;
    const withFamily = candidates.filter((e) => e.spaces.has(family));
    if (withFamily.length === 0) {
      return new IpamError(IpamErrorCode.familyUnavailable, `service ${request.service}: no IPv${family} address available: pools ${candidates.map((e) => e.pool.name).join(', ')} have no IPv${family} addresses`, { field: 'families' });
    }
    if (request.sharingKey !== undefined) {
      let best: { rank: number; held: HeldAddress } | undefined;
      const claimant = { service: request.service, sharingKey: request.sharingKey, ports: norm.ports };
      for (const held of this.#holdings.addressesSharedUnder(request.sharingKey)) {
        const rank = withFamily.indexOf(held.entry);
        if (held.address.family !== family || rank < 0) continue;
        if (best !== undefined && (best.rank < rank || (best.rank === rank && best.held.address.value < held.address.value))) continue;
        if (this.#holdings.conflict(claimant, held.text) === undefined) best = { rank, held };
      }
      if (best !== undefined) return best.held;
    }
    for (const entry of withFamily) {
      const space = entry.spaces.get(family)!;
      const value = space.lowestFree();
      if (value !== undefined) {
        const address = { family, value };
        return { address, text: formatIp(address), entry, space };
      }
    }
    const pools = withFamily.map((e) => usage(e, family));
    const only = pools.length === 1 ? pools[0] : undefined;
    const message =
      only !== undefined
        ? `pool ${only.pool} has no free IPv${family} address: ${only.inUse}`
        : `no free IPv${family} address in pools ${pools.map((p) => `${p.pool}: ${p.inUse}`).join('; ')}`;
    return new IpamError(IpamErrorCode.poolExhausted, `service ${request.service}: ${message}`, {
      field: 'families',
      ...(withFamily.length === 1 ? { pool: withFamily[0]!.pool.name } : {}),
    });
  }
}
