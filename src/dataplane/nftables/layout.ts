// The constant part of the `inet vipgate` table: its sets and maps, its base chains, and the
// small family of shared "pick" chains. Everything per service lives in elements (render.ts);
// see docs/design/004-nftables-layout.md for why the number of rules does not grow with it.
import { Protocols, type Protocol } from '../../model/index.ts';
import type { Family } from '../../net/index.ts';

/** The one table vipgate owns; nothing outside it is ever touched. */
export const TABLE = 'inet vipgate';

/**
 * Written as the table's comment. A table whose comment differs was made by another layout
 * (an older agent) and is replaced whole; a table with this one is reconciled element by
 * element, which keeps its counters.
 */
export const LAYOUT_VERSION = 'vipgate nftables layout 4';

/** Named sets and maps of the table, per family. */
export const SetNames = {
  frontends4: 'frontends4',
  frontends6: 'frontends6',
  backends4tcp: 'backends4tcp',
  backends4udp: 'backends4udp',
  backends6tcp: 'backends6tcp',
  backends6udp: 'backends6udp',
  counters4: 'counters4',
  counters6: 'counters6',
  masq4: 'masq4',
  masq6: 'masq6',
  closed4: 'closed4',
  closed6: 'closed6',
  restricted4: 'restricted4',
  restricted6: 'restricted6',
  allow4: 'allow4',
  allow6: 'allow6',
  deny4: 'deny4',
  deny6: 'deny6',
} as const;
export type SetName = (typeof SetNames)[keyof typeof SetNames];

/** The per-family sets of one family, by role. */
export function setsOf(family: Family): {
  readonly frontends: SetName;
  readonly counters: SetName;
  readonly masq: SetName;
  readonly closed: SetName;
  readonly restricted: SetName;
  readonly allow: SetName;
  readonly deny: SetName;
} {
  return family === 4
    ? { frontends: 'frontends4', counters: 'counters4', masq: 'masq4', closed: 'closed4', restricted: 'restricted4', allow: 'allow4', deny: 'deny4' }
    : { frontends: 'frontends6', counters: 'counters6', masq: 'masq6', closed: 'closed6', restricted: 'restricted6', allow: 'allow6', deny: 'deny6' };
}

/** The map of slots of one family and protocol. */
export const backendsOf = (family: Family, protocol: Protocol): SetName => `backends${family}${protocol}`;

/** Base chains (hooked into netfilter) and the per-family filter chains they jump to. */
export const FixedChains = ['filter4', 'filter6', 'filter_prerouting', 'filter_output', 'nat_prerouting', 'nat_output', 'nat_postrouting'] as const;
export type FixedChain = (typeof FixedChains)[number];

/**
 * Default packet-mark bit meaning "masquerade this flow". Set in nat prerouting/output for
 * frontends in `masq4/6`, read in postrouting: nft 1.0.6 can't put `ct original proto-dst` in
 * a set key, so the per-frontend SNAT choice has to travel with the packet. Not kube-proxy's
 * 0x4000.
 */
export const DEFAULT_MASQUERADE_MARK = 0x00100000;

export interface RenderOptions {
  readonly masqueradeMark: number;
}

/**
 * Most slots one frontend may use in `backends4/6`. Weights become repeated slots, so this
 * bounds both the elements per frontend and the number of pick chains (one per slot count in
 * use). A frontend with more ready backends serves the first MAX_SLOTS of them (reported).
 */
export const MAX_SLOTS = 256;

/**
 * Seed of the ClientIP hash. One for all frontends, since the pick chains are shared; fixed,
 * so every LB node and every rewrite send a client to the same slot.
 */
export const HASH_SEED = '0x76697067';

export type PickMethod = 'random' | 'hash';

export const ipKeyword = (family: Family): 'ip' | 'ip6' => (family === 4 ? 'ip' : 'ip6');

const KEY = (family: Family): string => `${ipKeyword(family)} daddr . meta l4proto . th dport`;

/** `pick4_tcp_random_10`: the chain that picks one of 10 slots of a TCP IPv4 frontend. */
export function pickChain(family: Family, protocol: Protocol, method: PickMethod, slots: number): string {
  return `pick${family}_${protocol}_${method}_${slots}`;
}

const PICK_CHAIN = /^pick([46])_(tcp|udp)_(random|hash)_(\d+)$/;

/**
 * The one rule of a pick chain, in the form nft lists it back, so that a drift check can
 * compare text. `tcp dport` also gives the DNAT with ports the protocol it needs. Undefined
 * for a name that is not a pick chain.
 */
export function pickRule(name: string): string | undefined {
  const m = PICK_CHAIN.exec(name);
  if (m === null) return undefined;
  const [, fam, protocol, method, count] = m as unknown as [string, '4' | '6', Protocol, PickMethod, string];
  const family: Family = fam === '4' ? 4 : 6;
  const n = Number(count);
  if (n < 1 || n > MAX_SLOTS || String(n) !== count) return undefined;
  const ip = ipKeyword(family);
  const draw = method === 'random' ? `numgen random mod ${n}` : `jhash ${ip} saddr mod ${n} seed ${HASH_SEED}`;
  return `dnat ${ip} to ${ip} daddr . meta l4proto . ${protocol} dport . ${draw} map @${backendsOf(family, protocol)}`;
}

const KEY_TYPE = { 4: 'ipv4_addr . inet_proto . inet_service', 6: 'ipv6_addr . inet_proto . inet_service' } as const;
const ADDRESS_TYPE = { 4: 'ipv4_addr', 6: 'ipv6_addr' } as const;

/** Declarations of the named sets and maps, as nft lists them. */
export const SET_DECLARATIONS: Record<SetName, { readonly kind: 'set' | 'map'; readonly lines: readonly string[] }> = (() => {
  const out = {} as Record<SetName, { kind: 'set' | 'map'; lines: string[] }>;
  for (const family of [4, 6] as const) {
    const s = setsOf(family);
    const ip = ipKeyword(family);
    out[s.frontends] = { kind: 'map', lines: [`type ${KEY_TYPE[family]} : verdict`] };
    for (const protocol of Protocols) {
      // `typeof` is required: a `type … . mark` key is refused, and only typeof can name the
      // numgen/jhash result; the modulus written here does not bind the pick rules' modulus.
      // One map per protocol, keyed with `tcp dport`/`udp dport`: with `th dport` nft 1.0.6
      // refuses any rule that names the map once it is in the kernel ("conflicting protocols
      // specified: ip vs. th"), so no pick chain could be added after the first load.
      const port = `${protocol} dport`;
      out[backendsOf(family, protocol)] = { kind: 'map', lines: [`typeof ${ip} daddr . meta l4proto . ${port} . numgen random mod 2 : ${ip} daddr . ${port}`] };
    }
    // Every frontend: what filter4/6 applies to. The verdict map can't say it: a lookup in a
    // filter chain binds the map there, and the kernel then refuses its DNAT chains.
    // Per-element counters, updated by the lookup in filter4/6. Not named counters: with 10k
    // named objects libnftables dumps them all before every element transaction (~50 ms).
    out[s.counters] = { kind: 'set', lines: [`type ${KEY_TYPE[family]}`, 'counter'] };
    out[s.masq] = { kind: 'set', lines: [`type ${KEY_TYPE[family]}`] };
    out[s.closed] = { kind: 'set', lines: [`type ${KEY_TYPE[family]}`] };
    out[s.restricted] = { kind: 'set', lines: [`type ${KEY_TYPE[family]}`] };
    out[s.allow] = { kind: 'set', lines: [`type ${KEY_TYPE[family]} . ${ADDRESS_TYPE[family]}`, 'flags interval'] };
    out[s.deny] = { kind: 'set', lines: [`type ${ADDRESS_TYPE[family]}`, 'flags interval'] };
  }
  return out;
})();

/** Bodies of the fixed chains (type line first for base chains), as nft lists them. */
export function fixedChainRules(options: RenderOptions): Record<FixedChain, readonly string[]> {
  const mark = `0x${options.masqueradeMark.toString(16).padStart(8, '0')}`;
  const filter = (family: Family): string[] => {
    const ip = ipKeyword(family);
    const s = setsOf(family);
    return [
      // The packet was counted by the lookup that brought it here (refused ones too: an operator
      // wants to see them). Policy is decided when a flow starts, as kube-proxy's nftables mode does: packets of
      // admitted flows skip the checks below, which keeps the per-packet cost to two lookups.
      // A narrowed deny list or source range therefore stops new flows; open ones run out.
      'ct state established,related accept',
      `${ip} saddr @${s.deny} drop`,
      `${KEY(family)} @${s.restricted} ${KEY(family)} . ${ip} saddr != @${s.allow} drop`,
      // Reject (not drop) so that clients fail fast; only new flows, so that flows to
      // terminating backends drain.
      `${KEY(family)} @${s.closed} ct state new reject with ${family === 4 ? 'icmp' : 'icmpv6'} port-unreachable`,
    ];
  };
  // "Is this one of ours" and "count it" in one lookup: every frontend has a counters element.
  const toFilter = [`${KEY(4)} @counters4 jump filter4`, `${KEY(6)} @counters6 jump filter6`];
  const nat = [
    // Before the DNAT: the mark asks postrouting to masquerade this flow.
    `${KEY(4)} @masq4 meta mark set meta mark | ${mark}`,
    `${KEY(6)} @masq6 meta mark set meta mark | ${mark}`,
    `${KEY(4)} vmap @frontends4`,
    `${KEY(6)} vmap @frontends6`,
  ];
  return {
    filter4: filter(4),
    filter6: filter(6),
    // dstnat - 10: after conntrack, before DNAT rewrites the destination, like kube-proxy's
    // nftables mode, so that policy sees the VIP. The output hooks serve clients on the LB
    // node itself (health checks, `curl` by an operator).
    filter_prerouting: ['type filter hook prerouting priority dstnat - 10; policy accept;', ...toFilter],
    // nft accepts the name "dstnat" in output only for nat chains, hence the numbers there.
    filter_output: ['type filter hook output priority -110; policy accept;', ...toFilter],
    nat_prerouting: ['type nat hook prerouting priority dstnat; policy accept;', ...nat],
    nat_output: ['type nat hook output priority -100; policy accept;', ...nat],
    nat_postrouting: ['type nat hook postrouting priority srcnat; policy accept;', `meta mark & ${mark} == ${mark} masquerade`],
  };
}

function block(kind: string, name: string, lines: readonly string[]): string {
  return [`\t${kind} ${name} {`, ...lines.map((l) => `\t\t${l}`), '\t}'].join('\n');
}

/**
 * The table with its sets, maps and fixed chains, and no elements: constant whatever the
 * service table holds. Pick chains and elements are added by the transaction that follows.
 */
export function skeletonText(options: RenderOptions): string {
  const parts = [`table ${TABLE} {`, `\tcomment "${LAYOUT_VERSION}"`];
  for (const name of Object.values(SetNames)) {
    const { kind, lines } = SET_DECLARATIONS[name];
    parts.push(block(kind, name, lines));
  }
  const fixed = fixedChainRules(options);
  // Regular chains before the base chains that jump to them.
  for (const name of FixedChains) parts.push(block('chain', name, fixed[name]));
  parts.push('}');
  return `${parts.join('\n')}\n`;
}
