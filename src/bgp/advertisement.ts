/** The speaker's input: advertisements as the agent writes them, validated and per-peer shaped. */
import { formatCidr, formatIp, NetError, parseIp, tryParseIp, type Cidr, type IpAddress } from '../net/index.ts';
import { BgpError, BgpErrorCode } from './errors.ts';
import type { AddressFamily } from './negotiate.ts';
import { attributesKey, type OutRoute } from './rib-out.ts';
import { community, type LargeCommunity, type PathAttributes } from './wire/attributes.ts';
import { Origin } from './wire/constants.ts';
import { asSequence } from './wire/update.ts';

/**
 * One route to announce, e.g. `{ prefix: parseCidr("10.200.0.5/32"), communities: ["65002:100"] }`.
 * The prefix comes parsed: text is parsed once where it enters (config, the agent's VIPs), and
 * the speaker only formats it once per prefix object for its Adj-RIB-Out key.
 */
export interface Advertisement {
  readonly prefix: Cidr;
  /** Defaults to the peer's configured next hop, else our address on the session. */
  readonly nextHop?: string;
  /** RFC 1997 communities as "asn:value". */
  readonly communities?: readonly string[];
  /** RFC 8092 large communities as "global:local1:local2". */
  readonly largeCommunities?: readonly string[];
  /** Sent to iBGP peers only (RFC 4271 §5.1.5). */
  readonly localPref?: number;
  readonly med?: number;
  /** eBGP only: extra copies of our AS on the AS_PATH (a draining node's lower preference). */
  readonly asPathPrepend?: number;
}

/** An advertisement after validation. */
export interface DesiredRoute {
  readonly prefix: Cidr;
  /** Canonical prefix text: the Adj-RIB-Out key. */
  readonly prefixKey: string;
  readonly nextHop?: IpAddress;
  readonly communities: readonly number[];
  readonly largeCommunities: readonly LargeCommunity[];
  readonly localPref?: number;
  readonly med?: number;
  readonly asPathPrepend?: number;
  /**
   * The attributes other than the next hop as text: equal text, equal attributes. One string
   * per distinct attribute set, shared by its routes (routesForPeer groups by it).
   */
  readonly signature: string;
}

function bad(index: number, message: string): BgpError {
  return new BgpError(BgpErrorCode.badAdvertisement, `advertisement ${index}: ${message}`);
}

function uint(text: string, max: number): number | undefined {
  if (!/^(0|[1-9][0-9]{0,9})$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

function parseCommunity(index: number, text: string): number {
  const parts = text.split(':').map((p) => uint(p, 0xffff));
  const [asn, value] = parts;
  if (parts.length !== 2 || asn === undefined || value === undefined) throw bad(index, `community "${text}" must be "asn:value", each 0..65535`);
  return community(asn, value);
}

function parseLargeCommunity(index: number, text: string): LargeCommunity {
  const parts = text.split(':').map((p) => uint(p, 0xffffffff));
  const [globalAdministrator, localData1, localData2] = parts;
  if (parts.length !== 3 || globalAdministrator === undefined || localData1 === undefined || localData2 === undefined) {
    throw bad(index, `large community "${text}" must be "global:local1:local2", each 0..4294967295`);
  }
  return { globalAdministrator, localData1, localData2 };
}

function checkUint32(index: number, name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 0xffffffff)) throw bad(index, `${name} ${value} must be an integer 0..4294967295`);
}

/**
 * Canonical prefix text per prefix object: the Adj-RIB-Out key. Callers hand the same `Cidr`
 * objects from one set to the next (the agent keeps one per VIP), and between two sets of 10⁵
 * routes most prefixes are the same: each is formatted once, not once per set. Keyed by
 * identity and held weakly, so prefixes no set uses any more are simply collected.
 */
export class PrefixKeys {
  private readonly keys = new WeakMap<Cidr, string>(); // prefix object → canonical text

  key(prefix: Cidr): string {
    let key = this.keys.get(prefix);
    if (key === undefined) {
      key = formatCidr(prefix);
      this.keys.set(prefix, key);
    }
    return key;
  }
}

/**
 * Validates the whole desired set. Any bad entry rejects the set (with the entry's index and
 * what is allowed), so a half-applied announcement never happens.
 */
export function parseAdvertisements(advertisements: readonly Advertisement[], prefixes: PrefixKeys = new PrefixKeys()): DesiredRoute[] {
  const seen = new Set<string>();
  // 10⁵ routes usually carry a handful of distinct lists: parse each once and share the result
  // (readonly), which is most of a route's memory otherwise.
  const communityLists = new Map<string, readonly number[]>();
  const largeLists = new Map<string, readonly LargeCommunity[]>();
  // Callers (the export policy) hand one array to many routes: known by identity, no join needed.
  const byArray = new Map<readonly string[], readonly number[]>();
  const listText = new Map<readonly unknown[], string>(); // parsed list → its text, for signatures
  const signatures = new Map<string, string>(); // interned: one string per attribute set
  return advertisements.map((a, index) => {
    const prefix = a.prefix;
    const key = prefixes.key(prefix);
    let nextHop: IpAddress | undefined;
    try {
      nextHop = a.nextHop === undefined ? undefined : parseIp(a.nextHop);
    } catch (e) {
      if (e instanceof NetError) throw bad(index, e.message);
      throw e;
    }
    if (seen.has(key)) throw bad(index, `prefix ${key} appears twice; each prefix may be advertised once`);
    seen.add(key);
    if (nextHop !== undefined && nextHop.family !== prefix.family) throw bad(index, `next hop ${a.nextHop} is not IPv${prefix.family} like ${key}`);
    checkUint32(index, 'localPref', a.localPref);
    checkUint32(index, 'med', a.med);
    if (a.asPathPrepend !== undefined && (!Number.isInteger(a.asPathPrepend) || a.asPathPrepend < 0 || a.asPathPrepend > 255)) {
      throw bad(index, `asPathPrepend ${a.asPathPrepend} must be an integer 0..255`);
    }
    const given = a.communities ?? [];
    let communities = byArray.get(given);
    if (communities === undefined) {
      const communityText = given.join(' ');
      communities = communityLists.get(communityText);
      if (communities === undefined) {
        communities = [...new Set(given.map((c) => parseCommunity(index, c)))].sort((x, y) => x - y);
        communityLists.set(communityText, communities);
      }
      if (given.length > 0) byArray.set(given, communities);
    }
    const largeText = (a.largeCommunities ?? []).join(' ');
    let large = largeLists.get(largeText);
    if (large === undefined) {
      large = (a.largeCommunities ?? []).map((c) => parseLargeCommunity(index, c));
      largeLists.set(largeText, large);
    }
    let communitiesText = listText.get(communities);
    if (communitiesText === undefined) {
      communitiesText = communities.join(',');
      listText.set(communities, communitiesText);
    }
    let largeCommunitiesText = listText.get(large);
    if (largeCommunitiesText === undefined) {
      largeCommunitiesText = large.map((c) => `${c.globalAdministrator}:${c.localData1}:${c.localData2}`).join(',');
      listText.set(large, largeCommunitiesText);
    }
    const text = `${a.med}|${a.localPref}|${communitiesText}|${largeCommunitiesText}|${a.asPathPrepend ?? 0}`;
    let signature = signatures.get(text);
    if (signature === undefined) {
      signature = text;
      signatures.set(text, text);
    }
    return {
      prefix,
      prefixKey: key,
      communities,
      largeCommunities: large,
      signature,
      ...(nextHop === undefined ? {} : { nextHop }),
      ...(a.localPref === undefined ? {} : { localPref: a.localPref }),
      ...(a.med === undefined ? {} : { med: a.med }),
      ...(a.asPathPrepend === undefined || a.asPathPrepend === 0 ? {} : { asPathPrepend: a.asPathPrepend }),
    };
  });
}

/**
 * Per-peer route sets for setPeerAdvertisements: `byPeer` maps a peer address to its WHOLE set;
 * peers not in it (also ones added later) get `default`. Peers given the same array share its
 * parsing (and 10⁵ routes are parsed once, not once per peer).
 */
export interface PeerAdvertisements {
  readonly default: readonly Advertisement[];
  readonly byPeer: ReadonlyMap<string, readonly Advertisement[]>;
}

/**
 * Validates per-peer sets (each distinct array once) and keys them by canonical peer address.
 * Throws BgpError naming the peer whose set is bad; nothing is half-applied.
 */
export function parsePeerAdvertisements(sets: PeerAdvertisements, prefixes?: PrefixKeys): { desired: readonly DesiredRoute[]; byPeer: Map<string, readonly DesiredRoute[]> } {
  const parsed = new Map<readonly Advertisement[], readonly DesiredRoute[]>();
  const parse = (list: readonly Advertisement[], peer: string | undefined): readonly DesiredRoute[] => {
    let routes = parsed.get(list);
    if (routes === undefined) {
      try {
        routes = parseAdvertisements(list, prefixes);
      } catch (e) {
        if (e instanceof BgpError && peer !== undefined) throw new BgpError(e.code, `peer ${peer}: ${e.message}`);
        throw e;
      }
      parsed.set(list, routes);
    }
    return routes;
  };
  const desired = parse(sets.default, undefined);
  const byPeer = new Map<string, readonly DesiredRoute[]>();
  for (const [address, list] of sets.byPeer) {
    const ip = tryParseIp(address);
    if (ip === undefined) throw new BgpError(BgpErrorCode.badAdvertisement, `"${address}" in byPeer is not a peer address`);
    byPeer.set(formatIp(ip), parse(list, formatIp(ip)));
  }
  return { desired, byPeer };
}

/** What the speaker knows about one established peer that shapes its routes. */
export interface PeerView {
  readonly localAsn: number;
  readonly peerAsn: number;
  /** Families negotiated on the session. */
  readonly families: readonly AddressFamily[];
  readonly defaultNextHop: { readonly ipv4?: IpAddress; readonly ipv6?: IpAddress };
}

/**
 * The routes one peer should receive: only negotiated families; AS_PATH with our AS for eBGP
 * and empty for iBGP; LOCAL_PREF only to iBGP. Routes with no usable next hop are returned in
 * `skipped` (an IPv6 VIP over an IPv4 session with no IPv6 next hop configured).
 */
export function routesForPeer(desired: readonly DesiredRoute[], view: PeerView): { routes: OutRoute[]; skipped: string[] } {
  const ibgp = view.localAsn === view.peerAsn;
  const routes: OutRoute[] = [];
  const skipped: string[] = [];
  // Routes with the same attributes share one attributes object and key: 10⁴ VIPs usually
  // have a handful of distinct attribute sets, and keys are what the Adj-RIB-Out compares.
  // next hop text → attributes signature → the shared part; the common case (the peer's default
  // next hop) builds no string per route.
  const shared = new Map<string, Map<string, { attributes: PathAttributes; nextHops: IpAddress[]; key: string }>>();
  const defaultText = {
    ipv4: view.defaultNextHop.ipv4 === undefined ? '' : `4:${view.defaultNextHop.ipv4.value}`,
    ipv6: view.defaultNextHop.ipv6 === undefined ? '' : `6:${view.defaultNextHop.ipv6.value}`,
  };
  for (const d of desired) {
    const family: AddressFamily = d.prefix.family === 4 ? 'ipv4' : 'ipv6';
    if (!view.families.includes(family)) continue;
    const nextHop = d.nextHop ?? view.defaultNextHop[family];
    if (nextHop === undefined) {
      skipped.push(d.prefixKey);
      continue;
    }
    const nextHopText = d.nextHop === undefined ? defaultText[family] : `${nextHop.family}:${nextHop.value}`;
    let bySignature = shared.get(nextHopText);
    if (bySignature === undefined) {
      bySignature = new Map();
      shared.set(nextHopText, bySignature);
    }
    const known = bySignature.get(d.signature);
    if (known !== undefined) {
      routes.push({ prefix: d.prefix, prefixKey: d.prefixKey, ...known });
      continue;
    }
    const attributes: PathAttributes = {
      origin: Origin.igp,
      // RFC 4271 §5.1.2: an originating speaker sends its own AS to external peers, nothing to internal ones.
      // Prepending (a draining node) repeats our AS: a longer path, less preferred (RFC 4271 §9.1.2.2 b).
      asPath: ibgp ? [] : asSequence(...Array<number>(1 + (d.asPathPrepend ?? 0)).fill(view.localAsn)),
      ...(d.med === undefined ? {} : { multiExitDisc: d.med }),
      // RFC 4271 §5.1.5: LOCAL_PREF goes to internal peers (always: 100 unless set), never to external ones.
      ...(ibgp ? { localPref: d.localPref ?? 100 } : {}),
      ...(d.communities.length > 0 ? { communities: d.communities } : {}),
      ...(d.largeCommunities.length > 0 ? { largeCommunities: d.largeCommunities } : {}),
    };
    const entry = { attributes, nextHops: [nextHop], key: '' };
    entry.key = attributesKey({ prefix: d.prefix, ...entry });
    bySignature.set(d.signature, entry);
    routes.push({ prefix: d.prefix, prefixKey: d.prefixKey, ...entry });
  }
  return { routes, skipped };
}
