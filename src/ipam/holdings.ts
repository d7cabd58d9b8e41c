import type { IpAddress } from '../net/index.ts';
import type { AddressSpace } from './address-space.ts';
import { IpamError, IpamErrorCode } from './errors.ts';
import type { PoolEntry } from './pools.ts';

/** An address a Service holds, with the pool it came from. */
export interface HeldAddress {
  readonly address: IpAddress;
  /** Canonical text. */
  readonly text: string;
  readonly entry: PoolEntry;
  readonly space: AddressSpace;
}

/** Everything IPAM knows about one Service's addresses. */
export interface Holding {
  readonly service: string;
  readonly namespace: string;
  readonly sharingKey: string | undefined;
  /** "80/tcp" per port. */
  readonly ports: ReadonlySet<string>;
  /** Sorted by family (IPv4 first), one per family. */
  readonly addresses: readonly HeldAddress[];
}

/** Who wants to use an address, for the sharing check. */
export interface Claimant {
  readonly service: string;
  readonly sharingKey: string | undefined;
  readonly ports: ReadonlySet<string>;
}

/**
 * The books: which Service holds which address. The address spaces only know taken/free;
 * this knows who, and keeps the indexes the sharing rules need. Every change goes through
 * `hold`/`drop`, so the spaces and the indexes cannot drift apart.
 */
export class Holdings {
  readonly #byService = new Map<string, Holding>();
  /** address text → services sharing it (several only under one sharing key). */
  readonly #servicesByAddress = new Map<string, Set<string>>();
  /** sharing key → addresses held under it, for "reuse a shared VIP before a fresh one". */
  readonly #addressesBySharingKey = new Map<string, Map<string, HeldAddress>>();

  get(service: string): Holding | undefined {
    return this.#byService.get(service);
  }

  services(): IterableIterator<Holding> {
    return this.#byService.values();
  }

  /** Services holding the address (canonical text), in key order. */
  holdersOf(text: string): string[] {
    return [...(this.#servicesByAddress.get(text) ?? [])].sort();
  }

  addressesSharedUnder(sharingKey: string): Iterable<HeldAddress> {
    return this.#addressesBySharingKey.get(sharingKey)?.values() ?? [];
  }

  /**
   * Why `claimant` may not use the address (held by a Service with another or no sharing
   * key, or a (port, protocol) clash under the same key), or undefined if it may.
   * The claimant's own holding never conflicts with itself.
   */
  conflict(claimant: Claimant, text: string): IpamError | undefined {
    const holders = this.#servicesByAddress.get(text);
    if (holders === undefined || (holders.size === 1 && holders.has(claimant.service))) return undefined;
    // Sorted so that which holder an error names does not depend on history.
    for (const service of [...holders].sort()) {
      if (service === claimant.service) continue;
      const holder = this.#byService.get(service)!;
      if (claimant.sharingKey === undefined || holder.sharingKey !== claimant.sharingKey) {
        const theirs = holder.sharingKey === undefined ? 'no sharing key' : `sharing key "${holder.sharingKey}"`;
        const ours = claimant.sharingKey === undefined ? 'no sharing key' : `sharing key "${claimant.sharingKey}"`;
        return new IpamError(
          IpamErrorCode.addressInUse,
          `${text} is in use by ${service} (${theirs}); ${claimant.service} has ${ours}, and only services with the same sharing key may share an address`,
          { address: text, holder: service },
        );
      }
      const clash = [...claimant.ports].filter((p) => holder.ports.has(p)).sort();
      if (clash.length > 0) {
        return new IpamError(
          IpamErrorCode.portClash,
          `${text} is shared under sharing key "${holder.sharingKey}", but ${service} already serves ${clash.join(', ')} on it; services sharing an address need distinct (port, protocol) pairs`,
          { address: text, holder: service },
        );
      }
    }
    return undefined;
  }

  /** Replaces whatever the Service held with `holding`. */
  hold(holding: Holding): void {
    this.drop(holding.service);
    this.#byService.set(holding.service, holding);
    for (const held of holding.addresses) {
      let holders = this.#servicesByAddress.get(held.text);
      if (holders === undefined) {
        holders = new Set();
        this.#servicesByAddress.set(held.text, holders);
        held.space.take(held.address.value);
      }
      holders.add(holding.service);
      if (holding.sharingKey !== undefined) {
        let shared = this.#addressesBySharingKey.get(holding.sharingKey);
        if (shared === undefined) {
          shared = new Map();
          this.#addressesBySharingKey.set(holding.sharingKey, shared);
        }
        shared.set(held.text, held);
      }
    }
  }

  /** Forgets the Service; an address goes back to its pool when its last holder goes. */
  drop(service: string): void {
    const holding = this.#byService.get(service);
    if (holding === undefined) return;
    this.#byService.delete(service);
    for (const held of holding.addresses) {
      const holders = this.#servicesByAddress.get(held.text);
      holders?.delete(service);
      if (holders !== undefined && holders.size > 0) continue;
      this.#servicesByAddress.delete(held.text);
      held.space.release(held.address.value);
      if (holding.sharingKey === undefined) continue;
      // All holders of an address share one key, so the key loses it with its last holder.
      const shared = this.#addressesBySharingKey.get(holding.sharingKey);
      shared?.delete(held.text);
      if (shared?.size === 0) this.#addressesBySharingKey.delete(holding.sharingKey);
    }
  }
}
