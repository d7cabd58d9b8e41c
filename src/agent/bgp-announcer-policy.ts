/**
 * Per-peer export policy (docs/design/005-bgp-export-policy.md): which of the servable VIPs
 * each peer is told about, as which prefixes, with which attributes. Pure.
 */
import type { Advertisement } from '../bgp/index.ts';
import { DEFAULT_BGP_DRAIN, type BgpAdvertisementConfig, type BgpConfig, type BgpDrainPreference, type BgpPeerConfig } from '../config/index.ts';
import type { Pool } from '../model/index.ts';
import { cidrContains, cidrOf, formatCidr, hostCidr, parseCidr, parseIp, parseRange, rangeToCidrs, type Cidr, type IpAddress } from '../net/index.ts';

/** The pool holding an address, and the block of it (a pool entry as CIDRs) that does. */
export interface PoolHit {
  readonly name: string;
  readonly block: Cidr;
}

/** The pool holding an address; undefined when no pool does. */
export type PoolOf = (address: IpAddress) => PoolHit | undefined;

/** A PoolOf over these pools (their blocks parsed once). Pools never overlap, so the first match is the only one. */
export function poolLookup(pools: readonly Pool[]): PoolOf {
  const blocks = pools.flatMap((pool) => pool.addresses.flatMap((text) => rangeToCidrs(parseRange(text)).map((c) => ({ name: pool.name, block: parseCidr(c) }))));
  return (address) => blocks.find((b) => cidrContains(b.block, address));
}

export interface PolicyInputs {
  readonly poolOf: PoolOf;
  /** vipOf with a cache (the announcer keeps one per pools array); default: vipOf. */
  readonly vipInfo?: (prefix: string) => Vip;
  /** The VIP interface's routes, for `aggregateToVipRoutes`. */
  readonly vipRoutes: readonly string[];
  /**
   * The node drains (docs/design/013-drain.md): `graceful-shutdown` announces every route with
   * GRACEFUL_SHUTDOWN and the peer's lower preference; `withdrawn` announces nothing.
   */
  readonly drain?: DrainAnnouncement;
}

export type DrainAnnouncement = 'graceful-shutdown' | 'withdrawn';

/** RFC 8326 §3: the well-known GRACEFUL_SHUTDOWN community. */
export const GRACEFUL_SHUTDOWN = '65535:0';

/** Whether an advertisement names this peer (or names none, meaning all). */
export function appliesToPeer(advertisement: BgpAdvertisementConfig, peer: BgpPeerConfig): boolean {
  const wanted = advertisement.peers;
  return wanted.length === 0 || wanted.includes(peer.address) || (peer.name !== undefined && wanted.includes(peer.name));
}

/** A servable VIP as the policy sees it; `vipInfo` in PolicyInputs may cache these across passes. */
export interface Vip {
  readonly prefix: string;
  readonly address: IpAddress;
  /** The prefix parsed, once: the speaker takes it as is (and knows it again by identity). */
  readonly host: Cidr;
  readonly pool: string | undefined;
  /** The pool block holding the VIP: no aggregate of it may be wider (see announcedPrefix). */
  readonly block: Cidr | undefined;
}

/** The VIP behind a host prefix ("10.200.0.5/32") and its pool. */
export function vipOf(prefix: string, poolOf: PoolOf): Vip {
  const address = parseIp(prefix.slice(0, prefix.indexOf('/')));
  const hit = poolOf(address);
  return { prefix, address, host: hostCidr(address), pool: hit?.name, block: hit?.block };
}

/**
 * The routes for every configured peer: peer address → its whole Advertisement list. Peers
 * that the same advertisements apply to share one list (the speaker parses each list once).
 * A prefix several advertisements give one peer is sent once: communities and large
 * communities united, the highest localPref, the lowest med.
 */
export function exportPolicy(prefixes: readonly string[], config: BgpConfig, inputs: PolicyInputs): Map<string, readonly Advertisement[]> {
  const vipInfo = inputs.vipInfo ?? ((prefix: string) => vipOf(prefix, inputs.poolOf));
  const vips: Vip[] = prefixes.map(vipInfo);
  const vipRoutes = inputs.vipRoutes.map((text) => parseCidr(text));
  const byIndexes = new Map<string, readonly Advertisement[]>(); // "0,2" (advertisement indexes) → routes
  const out = new Map<string, readonly Advertisement[]>();
  if (inputs.drain === 'withdrawn') {
    const none: readonly Advertisement[] = [];
    for (const peer of config.peers) out.set(peer.address, none);
    return out;
  }
  const lowered = new Map<string, readonly Advertisement[]>(); // indexes + preference → routes while draining
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
    if (inputs.drain === 'graceful-shutdown') {
      const preference = drainPreference(config, peer);
      const drainKey = `${key}|${JSON.stringify(preference)}`;
      let drained = lowered.get(drainKey);
      if (drained === undefined) {
        drained = gracefulShutdown(routes, preference);
        lowered.set(drainKey, drained);
      }
      routes = drained;
    }
    out.set(peer.address, routes);
  }
  return out;
}

/** The peer's lower preference while draining: its own `drain` over `bgp.drain` over the defaults. */
export function drainPreference(config: BgpConfig, peer: BgpPeerConfig): BgpDrainPreference {
  const { localPref, asPathPrepend, med } = { ...DEFAULT_BGP_DRAIN, ...config.drain, ...peer.drain };
  return { localPref, asPathPrepend, ...(med === undefined ? {} : { med }) };
}

/**
 * The same routes, less preferred: GRACEFUL_SHUTDOWN added (RFC 8326 §3, "a BGP speaker that is
 * being shut down SHOULD ... attach the GRACEFUL_SHUTDOWN community"), LOCAL_PREF and MED
 * replaced, the AS_PATH prepended. The speaker sends LOCAL_PREF to iBGP peers and prepends for
 * eBGP ones only. Routes that shared attributes still share them.
 */
function gracefulShutdown(routes: readonly Advertisement[], preference: BgpDrainPreference): Advertisement[] {
  const byAttributes = new Map<string, Omit<Advertisement, 'prefix'>>();
  return routes.map(({ prefix, ...attributes }) => {
    const key = `${attributes.communities?.join(',')}|${attributes.largeCommunities?.join(',')}|${attributes.localPref}|${attributes.med}|${attributes.nextHop}`;
    let drained = byAttributes.get(key);
    if (drained === undefined) {
      const communities = [...new Set([...(attributes.communities ?? []), GRACEFUL_SHUTDOWN])];
      const med = preference.med ?? attributes.med;
      drained = {
        ...attributes,
        communities,
        ...(preference.localPref === undefined ? {} : { localPref: preference.localPref }),
        ...(med === undefined ? {} : { med }),
        ...(preference.asPathPrepend === undefined || preference.asPathPrepend === 0 ? {} : { asPathPrepend: preference.asPathPrepend }),
      };
      byAttributes.set(key, drained);
    }
    return { prefix, ...drained };
  });
}

/** The prefix a VIP is announced as, with its canonical text (which routes are merged by). */
interface Announced {
  readonly text: string;
  readonly prefix: Cidr;
}

function announcedPrefix(vip: Vip, advertisement: BgpAdvertisementConfig, vipRoutes: readonly Cidr[]): Announced {
  if (advertisement.aggregateToVipRoutes) {
    const route = vipRoutes.find((r) => cidrContains(r, vip.address));
    if (route !== undefined) return { text: formatCidr(route), prefix: route };
  }
  const asked = vip.address.family === 4 ? advertisement.aggregationLength : advertisement.aggregationLengthV6;
  // Never wider than the VIP's pool block: the router would be told of addresses outside the
  // pool. The file's check refuses such a length; Kubernetes objects can't be checked across
  // objects, so here it is the block itself that is announced.
  const length = vip.block === undefined ? asked : Math.max(asked, vip.block.prefixLength);
  // The agent's prefixes are canonical host routes already: no need to format 10⁵ of them again.
  if (length === (vip.address.family === 4 ? 32 : 128)) return { text: vip.prefix, prefix: vip.host };
  const prefix = cidrOf(vip.address, length);
  return { text: formatCidr(prefix), prefix };
}

function routesFor(vips: readonly Vip[], advertisements: readonly BgpAdvertisementConfig[], vipRoutes: readonly Cidr[]): Advertisement[] {
  // announced prefix text → the advertisement(s) that yield it. Usually one: no per-route sets, and
  // every route of one advertisement shares one attributes object.
  const sources = new Map<string, BgpAdvertisementConfig | BgpAdvertisementConfig[]>();
  const parsed = new Map<string, Cidr>(); // announced prefix text → the prefix
  for (const advertisement of advertisements) {
    const pools = advertisement.pools;
    for (const vip of vips) {
      if (pools.length > 0 && (vip.pool === undefined || !pools.includes(vip.pool))) continue;
      const { text: prefix, prefix: cidr } = announcedPrefix(vip, advertisement, vipRoutes);
      const known = sources.get(prefix);
      if (known === undefined) {
        sources.set(prefix, advertisement);
        parsed.set(prefix, cidr);
      } else if (Array.isArray(known)) {
        if (!known.includes(advertisement)) known.push(advertisement);
      } else if (known !== advertisement) sources.set(prefix, [known, advertisement]);
    }
  }
  const attributesBySignature = new Map<string, Omit<Advertisement, 'prefix'>>();
  const single = new Map<BgpAdvertisementConfig, Omit<Advertisement, 'prefix'>>();
  const attributesOf = (from: BgpAdvertisementConfig | BgpAdvertisementConfig[]): Omit<Advertisement, 'prefix'> => {
    if (!Array.isArray(from)) {
      let a = single.get(from);
      if (a === undefined) {
        a = merge([from], attributesBySignature);
        single.set(from, a);
      }
      return a;
    }
    return merge(from, attributesBySignature);
  };
  return [...sources.keys()].sort().map((prefix) => {
    const from = sources.get(prefix);
    const cidr = parsed.get(prefix);
    if (from === undefined || cidr === undefined) throw new Error('invariant: an announced prefix has a source');
    return { prefix: cidr, ...attributesOf(from) };
  });
}

/**
 * The attributes of a prefix several advertisements yield: communities and large communities
 * united, the highest localPref, the lowest med (the most preferred, so adding an advertisement
 * never makes a route worse). Equal results share one object.
 */
function merge(from: readonly BgpAdvertisementConfig[], shared: Map<string, Omit<Advertisement, 'prefix'>>): Omit<Advertisement, 'prefix'> {
  const communities = [...new Set(from.flatMap((a) => a.communities))];
  const largeCommunities = [...new Set(from.flatMap((a) => a.largeCommunities))];
  const prefs = from.flatMap((a) => (a.localPref === undefined ? [] : [a.localPref]));
  const meds = from.flatMap((a) => (a.med === undefined ? [] : [a.med]));
  const localPref = prefs.length === 0 ? undefined : Math.max(...prefs);
  const med = meds.length === 0 ? undefined : Math.min(...meds);
  const signature = `${communities.join(',')}|${largeCommunities.join(',')}|${localPref}|${med}`;
  let attributes = shared.get(signature);
  if (attributes === undefined) {
    attributes = {
      ...(communities.length > 0 ? { communities } : {}),
      ...(largeCommunities.length > 0 ? { largeCommunities } : {}),
      ...(localPref === undefined ? {} : { localPref }),
      ...(med === undefined ? {} : { med }),
    };
    shared.set(signature, attributes);
  }
  return attributes;
}
