/**
 * Adj-RIB-Out diffing, pure: given what a peer was told and what it should now know, the
 * UPDATEs that make the difference — prefixes with identical attributes batched into as few
 * UPDATEs as fit in 4096 bytes (IPv4 in NLRI/withdrawn, IPv6 in MP_REACH/MP_UNREACH).
 */
import { formatCidr, formatIp, type Cidr, type IpAddress } from '../net/index.ts';
import type { AttributeContext, PathAttributes } from './wire/attributes.ts';
import { Afi, MAX_MESSAGE_LENGTH, Safi } from './wire/constants.ts';
import { encodedPrefixSize } from './wire/nlri.ts';
import { encodeUpdate } from './wire/update.ts';

/** One route as one peer should receive it. */
export interface OutRoute {
  readonly prefix: Cidr;
  /** Attributes other than the next hop and the MP attributes. */
  readonly attributes: PathAttributes;
  /** One IPv4 next hop, or an IPv6 global (+ optional link-local) next hop. */
  readonly nextHops: readonly IpAddress[];
  /** Canonical prefix text, when the caller already has it (saves formatting 10⁴ prefixes). */
  readonly prefixKey?: string;
  /** attributesKey(this), when the caller already has it (routes sharing attributes share it). */
  readonly key?: string;
}

/** One prefix a peer has been told, kept parsed so that withdrawing it needs no parsing. */
export interface SentPrefix {
  readonly prefix: Cidr;
  /** attributesKey of the route it was announced with. */
  readonly key: string;
}

/** What a peer has been told: prefix (canonical text) → the prefix and its attributes key. */
export type AdjRibOut = ReadonlyMap<string, SentPrefix>;

export interface UpdatePlan {
  readonly updates: readonly Uint8Array[];
  /** The Adj-RIB-Out once the updates are sent. */
  readonly next: Map<string, SentPrefix>;
  readonly announced: number;
  readonly withdrawn: number;
}

/** A stable text key for "same attributes": routes with equal keys share an UPDATE. */
export function attributesKey(route: OutRoute): string {
  return JSON.stringify({ a: route.attributes, n: route.nextHops.map((n) => `${n.family}:${n.value.toString(16)}`) }, (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString(16) : v,
  );
}

/** A route's attributes as an operator reads them (`vipgate bgp routes`). */
export interface SentAttributes {
  readonly nextHops: readonly string[];
  readonly localPref?: number;
  readonly med?: number;
  /** RFC 1997, `asn:value`. */
  readonly communities: readonly string[];
  /** RFC 8092, `global:local1:local2`. */
  readonly largeCommunities: readonly string[];
}

/**
 * The attributes an attributesKey stands for, read back from the key itself: the Adj-RIB-Out
 * keeps only keys (a few distinct ones shared by 10⁵ prefixes), so the view costs nothing
 * until asked. Undefined for a key this module did not make.
 */
export function describeAttributesKey(key: string): SentAttributes | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(key);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { a, n } = parsed as { a?: Partial<Record<keyof PathAttributes, unknown>>; n?: unknown };
  if (a === undefined || !Array.isArray(n)) return undefined;
  const nextHops = n.map((hop) => {
    const [family, hex] = String(hop).split(':') as [string, string | undefined];
    return formatIp({ family: family === '6' ? 6 : 4, value: BigInt(`0x${hex ?? '0'}`) });
  });
  const communities = Array.isArray(a.communities) ? a.communities.map((c) => `${Math.floor(Number(c) / 65536)}:${Number(c) % 65536}`) : [];
  const largeCommunities = Array.isArray(a.largeCommunities)
    ? (a.largeCommunities as { globalAdministrator: number; localData1: number; localData2: number }[]).map((c) => `${c.globalAdministrator}:${c.localData1}:${c.localData2}`)
    : [];
  return {
    nextHops,
    ...(typeof a.localPref === 'number' ? { localPref: a.localPref } : {}),
    ...(typeof a.multiExitDisc === 'number' ? { med: a.multiExitDisc } : {}),
    communities,
    largeCommunities,
  };
}

/** Splits prefixes into runs whose encoded size fits `room` bytes each. */
function pack(prefixes: readonly Cidr[], room: number): Cidr[][] {
  const chunks: Cidr[][] = [];
  let chunk: Cidr[] = [];
  let used = 0;
  for (const p of prefixes) {
    const size = encodedPrefixSize(p);
    if (used + size > room && chunk.length > 0) {
      chunks.push(chunk);
      chunk = [];
      used = 0;
    }
    chunk.push(p);
    used += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Room left for prefixes in an UPDATE whose other content encodes to `baseLength` bytes. */
function roomAfter(baseLength: number): number {
  // +1: an MP attribute may switch to the 2-byte extended length once prefixes are added.
  return MAX_MESSAGE_LENGTH - baseLength - 1;
}

function withdrawals(prefixes: readonly Cidr[], ctx: AttributeContext): Uint8Array[] {
  const v4 = prefixes.filter((p) => p.family === 4);
  const v6 = prefixes.filter((p) => p.family === 6);
  const out: Uint8Array[] = [];
  for (const chunk of pack(v4, roomAfter(encodeUpdate({}, ctx).length))) out.push(encodeUpdate({ withdrawn: chunk }, ctx));
  const mpBase = encodeUpdate({ attributes: { mpUnreach: { afi: Afi.ipv6, safi: Safi.unicast, withdrawn: [] } } }, ctx).length;
  for (const chunk of pack(v6, roomAfter(mpBase))) {
    out.push(encodeUpdate({ attributes: { mpUnreach: { afi: Afi.ipv6, safi: Safi.unicast, withdrawn: chunk } } }, ctx));
  }
  return out;
}

function announcements(routes: readonly OutRoute[], ctx: AttributeContext): Uint8Array[] {
  const first = routes[0];
  if (first === undefined) return [];
  const prefixes = routes.map((r) => r.prefix);
  if (first.prefix.family === 4) {
    const attributes: PathAttributes = { ...first.attributes, ...(first.nextHops[0] === undefined ? {} : { nextHop: first.nextHops[0] }) };
    const base = encodeUpdate({ attributes }, ctx).length;
    return pack(prefixes, roomAfter(base)).map((nlri) => encodeUpdate({ attributes, nlri }, ctx));
  }
  const reach = (nlri: readonly Cidr[]): PathAttributes => ({
    ...first.attributes,
    mpReach: { afi: Afi.ipv6, safi: Safi.unicast, nextHops: first.nextHops, nlri },
  });
  const base = encodeUpdate({ attributes: reach([]) }, ctx).length;
  return pack(prefixes, roomAfter(base)).map((nlri) => encodeUpdate({ attributes: reach(nlri) }, ctx));
}

/**
 * The UPDATEs that turn `sent` into `desired`: withdraw what disappeared, (re)announce what is
 * new or changed, nothing for what is unchanged. Withdrawals go first so that a prefix that
 * moved never appears twice.
 */
export function planUpdates(sent: AdjRibOut, desired: readonly OutRoute[], ctx: AttributeContext): UpdatePlan {
  const next = new Map<string, SentPrefix>();
  const groups = new Map<string, OutRoute[]>(); // attributes key → routes to announce with them
  for (const route of desired) {
    const prefix = route.prefixKey ?? formatCidr(route.prefix);
    const key = route.key ?? attributesKey(route);
    // A route that carries its key is its own entry: no object per prefix per plan.
    next.set(prefix, route.key === undefined ? { prefix: route.prefix, key } : (route as SentPrefix));
    if (sent.get(prefix)?.key === key) continue;
    // Grouped per family too: IPv4 and IPv6 never share an UPDATE.
    const groupKey = `${route.prefix.family}|${key}`;
    const group = groups.get(groupKey);
    if (group === undefined) groups.set(groupKey, [route]);
    else group.push(route);
  }
  const gone: Cidr[] = [];
  for (const [text, entry] of sent) {
    if (!next.has(text)) gone.push(entry.prefix);
  }
  const updates = withdrawals(gone, ctx);
  let announced = 0;
  for (const routes of groups.values()) {
    announced += routes.length;
    updates.push(...announcements(routes, ctx));
  }
  return { updates, next, announced, withdrawn: gone.length };
}

/** End-of-RIB markers for the families (RFC 4724 §2): the peer may now flush stale routes. */
export function endOfRib(families: readonly (4 | 6)[], ctx: AttributeContext): Uint8Array[] {
  return families.map((f) =>
    f === 4 ? encodeUpdate({}, ctx) : encodeUpdate({ attributes: { mpUnreach: { afi: Afi.ipv6, safi: Safi.unicast, withdrawn: [] } } }, ctx),
  );
}
