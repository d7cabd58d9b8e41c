/**
 * Per-peer export policy (docs/design/005-bgp-export-policy.md): which of the servable VIPs
 * each peer is told about, as which prefixes, with which attributes. Pure.
 */
import type { Advertisement } from '../bgp/index.ts';
import type { BgpAdvertisementConfig, BgpConfig, BgpPeerConfig } from '../config/index.ts';
import type { Pool } from '../model/index.ts';
import { cidrContains, cidrOf, formatCidr, parseCidr, parseIp, parseRange, rangeContains, type Cidr, type IpAddress } from '../net/index.ts';

/** The name of the pool holding an address; undefined when no pool does. */
export type PoolOf = (address: IpAddress) => string | undefined;

/** A PoolOf over these pools (their ranges parsed once). Pools never overlap, so the first match is the only one. */
export function poolLookup(pools: readonly Pool[]): PoolOf {
  const ranges = pools.flatMap((pool) => pool.addresses.map((text) => ({ name: pool.name, range: parseRange(text) })));
  return (address) => ranges.find((r) => rangeContains(r.range, address))?.name;
}

export interface PolicyInputs {
  readonly poolOf: PoolOf;
  /** The VIP interface's routes, for `aggregateToVipRoutes`. */
  readonly vipRoutes: readonly string[];
}

/** Whether an advertisement names this peer (or names none, meaning all). */
export function appliesToPeer(advertisement: BgpAdvertisementConfig, peer: BgpPeerConfig): boolean {
  const wanted = advertisement.peers;
  return wanted.length === 0 || wanted.includes(peer.address) || (peer.name !== undefined && wanted.includes(peer.name));
}

interface Vip {
  readonly prefix: string;
  readonly address: IpAddress;
  readonly pool: string | undefined;
}

interface Merged {
  readonly communities: Set<string>;
  readonly largeCommunities: Set<string>;
  localPref?: number;
  med?: number;
}

/**
 * The routes for every configured peer: peer address → its whole Advertisement list. Peers
 * that the same advertisements apply to share one list (the speaker parses each list once).
 * A prefix several advertisements give one peer is sent once: communities and large
 * communities united, the highest localPref, the lowest med.
 */
export function exportPolicy(prefixes: readonly string[], config: BgpConfig, inputs: PolicyInputs): Map<string, readonly Advertisement[]> {
  const vips: Vip[] = prefixes.map((prefix) => {
    const address = parseIp(prefix.slice(0, prefix.indexOf('/')));
    return { prefix, address, pool: inputs.poolOf(address) };
  });
  const vipRoutes = inputs.vipRoutes.map((text) => parseCidr(text));
  const byIndexes = new Map<string, readonly Advertisement[]>(); // "0,2" (advertisement indexes) → routes
  const out = new Map<string, readonly Advertisement[]>();
  for (const peer of config.peers) {
    const indexes = config.advertisements.flatMap((a, i) => (appliesToPeer(a, peer) ? [i] : []));
    const key = indexes.join(',');
    let routes = byIndexes.get(key);
    if (routes === undefined) {
      routes = routesFor(
        vips,
        indexes.flatMap((i) => config.advertisements[i] ?? []),
        vipRoutes,
      );
      byIndexes.set(key, routes);
    }
    out.set(peer.address, routes);
  }
  return out;
}

function announcedPrefix(vip: Vip, advertisement: BgpAdvertisementConfig, vipRoutes: readonly Cidr[]): string {
  if (advertisement.aggregateToVipRoutes) {
    const route = vipRoutes.find((r) => cidrContains(r, vip.address));
    if (route !== undefined) return formatCidr(route);
  }
  const length = vip.address.family === 4 ? advertisement.aggregationLength : advertisement.aggregationLengthV6;
  // The agent's prefixes are canonical host routes already: no need to format 10⁵ of them again.
  if (length === (vip.address.family === 4 ? 32 : 128)) return vip.prefix;
  return formatCidr(cidrOf(vip.address, length));
}

function routesFor(vips: readonly Vip[], advertisements: readonly BgpAdvertisementConfig[], vipRoutes: readonly Cidr[]): Advertisement[] {
  const merged = new Map<string, Merged>(); // announced prefix → its attributes so far
  for (const advertisement of advertisements) {
    const pools = advertisement.pools;
    for (const vip of vips) {
      if (pools.length > 0 && (vip.pool === undefined || !pools.includes(vip.pool))) continue;
      const prefix = announcedPrefix(vip, advertisement, vipRoutes);
      let m = merged.get(prefix);
      if (m === undefined) {
        m = { communities: new Set(), largeCommunities: new Set() };
        merged.set(prefix, m);
      }
      for (const c of advertisement.communities) m.communities.add(c);
      for (const c of advertisement.largeCommunities) m.largeCommunities.add(c);
      // The most preferred value wins, so adding an advertisement never makes a route worse.
      if (advertisement.localPref !== undefined) m.localPref = Math.max(m.localPref ?? 0, advertisement.localPref);
      if (advertisement.med !== undefined) m.med = Math.min(m.med ?? Number.MAX_SAFE_INTEGER, advertisement.med);
    }
  }
  // Routes with equal attributes share the attribute arrays (10⁵ VIPs, a handful of attribute sets).
  const shared = new Map<string, Omit<Advertisement, 'prefix'>>();
  return [...merged.keys()].sort().map((prefix) => {
    const m = merged.get(prefix);
    if (m === undefined) throw new Error('invariant: a merged prefix has attributes');
    const communities = [...m.communities];
    const largeCommunities = [...m.largeCommunities];
    const signature = `${communities.join(',')}|${largeCommunities.join(',')}|${m.localPref}|${m.med}`;
    let attributes = shared.get(signature);
    if (attributes === undefined) {
      attributes = {
        ...(communities.length > 0 ? { communities } : {}),
        ...(largeCommunities.length > 0 ? { largeCommunities } : {}),
        ...(m.localPref === undefined ? {} : { localPref: m.localPref }),
        ...(m.med === undefined ? {} : { med: m.med }),
      };
      shared.set(signature, attributes);
    }
    return { prefix, ...attributes };
  });
}
