import { readyBackends, type Backend, type Frontend, type Protocol, type ServiceTable } from '../../model/index.ts';
import { cidrCovers, formatCidr, formatIp, parseCidr, parseIp, tryParseIp, type Cidr, type Family } from '../../net/index.ts';
import { NftError, NftErrorCode } from './errors.ts';

/** The one table vipgate owns; nothing outside it is ever touched. */
export const TABLE = 'inet vipgate';

/** Named sets and maps of the table, per family. */
export const SetNames = {
  nat4: 'frontends4',
  nat6: 'frontends6',
  filter4: 'filters4',
  filter6: 'filters6',
  allow4: 'allow4',
  allow6: 'allow6',
  deny4: 'deny4',
  deny6: 'deny6',
} as const;
export type SetName = (typeof SetNames)[keyof typeof SetNames];

/** Base chains: the only ones hooked into netfilter; everything else is reached through maps. */
export const BaseChains = ['filter_prerouting', 'filter_output', 'nat_prerouting', 'nat_output', 'nat_postrouting'] as const;

export const NAT_CHAIN_PREFIX = 'fe_';
export const FILTER_CHAIN_PREFIX = 'fw_';
export const COUNTER_PREFIX = 'cnt_';

/**
 * Default packet-mark bit meaning "masquerade this flow". The mark is set by a frontend's nat
 * chain and read in postrouting: nft 1.0.6 can't put `ct original proto-dst` in a set key, so
 * the per-frontend SNAT choice has to travel with the packet. Not kube-proxy's 0x4000.
 */
export const DEFAULT_MASQUERADE_MARK = 0x00100000;

export interface RenderOptions {
  readonly masqueradeMark: number;
}

/**
 * One frontend as nft text: a nat chain choosing the backend with one rule per backend (no
 * sets), a filter chain, and its elements in the shared maps/sets. Per-rule anonymous sets are
 * avoided on purpose: the kernel allocates each one's name by scanning all sets of the table,
 * so 10k of them take ~15 s to load; and a named data map shared by 10k rules costs
 * O(bindings) per element added (measured: 100k elements, 60 s).
 */
export interface RenderedFrontend {
  readonly key: string;
  /** Chain-name-safe id derived from the key, e.g. `10_200_0_5_tcp_80`. */
  readonly id: string;
  readonly family: Family;
  readonly protocol: Protocol;
  /** `10.200.0.5 . tcp . 80`: the key in the frontends/filters maps, as nft lists it. */
  readonly mapKey: string;
  /** Rules of `fe_<id>` (nat: backend choice, DNAT, masquerade mark). */
  readonly natRules: readonly string[];
  /** Rules of `fw_<id>` (filter: deny list, source ranges, no-backend reject, counter). */
  readonly filterRules: readonly string[];
  /** Elements of `allow<family>`: `<mapKey> . <client prefix>`. */
  readonly allow: readonly string[];
}

/** Something in the table that could not be rendered as asked; it is rendered closed instead. */
export interface RenderProblem {
  readonly key: string;
  readonly message: string;
}

export interface RenderedTable {
  /** By id, in table (key) order. */
  readonly frontends: ReadonlyMap<string, RenderedFrontend>;
  /** Deny-list elements per family, as nft lists them (host prefixes as bare addresses). */
  readonly deny: Readonly<Record<Family, readonly string[]>>;
  readonly problems: readonly RenderProblem[];
}

/** `10.200.0.5:80/tcp` → `10_200_0_5_tcp_80`; IPv6 colons become underscores. */
export function frontendId(frontend: Pick<Frontend, 'address' | 'protocol' | 'port'>): string {
  // Canonical text makes the id stable; an IPv4 id has four non-empty parts and an IPv6 one
  // either eight or an empty part ("::"), so the two families never collide.
  return `${frontend.address.replace(/[.:]/g, '_')}_${frontend.protocol}_${frontend.port}`;
}

export const natChain = (id: string): string => `${NAT_CHAIN_PREFIX}${id}`;
export const filterChain = (id: string): string => `${FILTER_CHAIN_PREFIX}${id}`;
export const counterName = (id: string): string => `${COUNTER_PREFIX}${id}`;

export const natElement = (f: RenderedFrontend): string => `${f.mapKey} : goto ${natChain(f.id)}`;
export const filterElement = (f: RenderedFrontend): string => `${f.mapKey} : goto ${filterChain(f.id)}`;

const ipKeyword = (family: Family): string => (family === 4 ? 'ip' : 'ip6');

/** A prefix as nft lists an interval-set element: host prefixes without "/32" or "/128". */
export function cidrElement(cidr: Cidr): string {
  const text = formatCidr(cidr);
  return cidr.prefixLength === (cidr.family === 4 ? 32 : 128) ? text.slice(0, text.indexOf('/')) : text;
}

/**
 * The prefixes of one family, sorted, with every prefix that another one covers dropped: nft
 * refuses overlapping elements in a named interval set, and they add nothing.
 */
export function normalizeCidrs(texts: readonly string[], family: Family): { cidrs: Cidr[]; bad: string[] } {
  const parsed: Cidr[] = [];
  const bad: string[] = [];
  for (const text of texts) {
    try {
      const cidr = parseCidr(text);
      if (cidr.family === family) parsed.push(cidr);
    } catch {
      bad.push(text);
    }
  }
  parsed.sort((a, b) => (a.network < b.network ? -1 : a.network > b.network ? 1 : a.prefixLength - b.prefixLength));
  const kept: Cidr[] = [];
  for (const cidr of parsed) {
    // Prefixes nest or are disjoint, and sorting puts a covering prefix first, so only the
    // last kept one can cover this one.
    const last = kept[kept.length - 1];
    if (last !== undefined && cidrCovers(last, cidr)) continue;
    kept.push(cidr);
  }
  return { cidrs: kept, bad };
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** FNV-1a of the key: the jhash seed must be the same on every LB node and every rewrite. */
function seedOf(key: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Unpadded: nft lists the seed that way, and drift checks compare text.
  return `0x${h.toString(16)}`;
}

function checkBackend(frontend: Frontend, b: Backend): void {
  const address = tryParseIp(b.address);
  if (address?.family !== frontend.family || formatIp(address) !== b.address) {
    throw new NftError(
      NftErrorCode.badFrontend,
      `${frontend.key}: backend address "${b.address}" must be canonical IPv${frontend.family}`,
    );
  }
  if (!Number.isInteger(b.port) || b.port < 1 || b.port > 65535) {
    throw new NftError(NftErrorCode.badFrontend, `${frontend.key}: backend port ${b.port} must be 1..65535`);
  }
  if (!Number.isInteger(b.weight) || b.weight < 0) {
    throw new NftError(NftErrorCode.badFrontend, `${frontend.key}: backend weight ${b.weight} must be an integer ≥ 0`);
  }
}

function backendRules(frontend: Frontend, options: RenderOptions): string[] {
  for (const b of frontend.backends) checkBackend(frontend, b);
  // Only ready backends take new flows; terminating ones keep theirs through conntrack, which
  // never consults these rules again for an established flow. Weight 0 takes no new flows.
  const ready = readyBackends(frontend)
    .filter((b) => b.weight > 0)
    .slice()
    .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
  if (ready.length === 0) return [];
  const ip = ipKeyword(frontend.family);
  const divisor = ready.reduce((g, b) => gcd(g, b.weight), 0);
  const weights = ready.map((b) => b.weight / divisor);
  const total = weights.reduce((sum, w) => sum + w, 0);
  const rules: string[] = [];
  if (frontend.snat === 'masquerade') rules.push(`meta mark set meta mark | 0x${options.masqueradeMark.toString(16).padStart(8, '0')}`);
  // DNAT ends the chain, so the first matching rule picks the backend. ClientIP: one hash of
  // the client, split into cumulative weight ranges. Random: rule i draws afresh and takes
  // w_i out of the weight still left, which gives each backend w_i / total overall.
  let remaining = total;
  let cumulative = 0;
  ready.forEach((b, i) => {
    const w = weights[i]!;
    cumulative += w;
    const target = frontend.family === 4 ? `${b.address}:${b.port}` : `[${b.address}]:${b.port}`;
    // In a chain reached through a map, nft needs the protocol stated before a DNAT with ports.
    const head = `meta l4proto ${frontend.protocol}`;
    const last = i === ready.length - 1;
    const pick = last
      ? ''
      : frontend.sessionAffinity === 'ClientIP'
        ? ` jhash ${ip} saddr mod ${total} seed ${seedOf(frontend.key)} < ${cumulative}`
        : ` numgen random mod ${remaining} < ${w}`;
    rules.push(`${head}${pick} dnat ${ip} to ${target}`);
    remaining -= w;
  });
  return rules;
}

function filterRules(frontend: Frontend, id: string, mapKey: string): { rules: string[]; allow: string[] } {
  const ip = ipKeyword(frontend.family);
  // Checked for every packet, not just new flows: narrowing the source ranges or growing the
  // deny list cuts flows already open, which is what an operator closing access expects.
  const rules = [`${ip} saddr @deny${frontend.family} drop`];
  let allow: string[] = [];
  if (frontend.allowedSources !== 'any') {
    const { cidrs, bad } = normalizeCidrs(frontend.allowedSources, frontend.family);
    if (bad.length > 0) {
      throw new NftError(NftErrorCode.badFrontend, `${frontend.key}: source range "${bad[0]}" is not a CIDR`);
    }
    allow = cidrs.map((c) => `${mapKey} . ${cidrElement(c)}`);
    // An empty list admits nobody (see Frontend.allowedSources).
    rules.push(cidrs.length === 0 ? 'drop' : `${ip} daddr . meta l4proto . th dport . ${ip} saddr != @allow${frontend.family} drop`);
  }
  // Reject (not drop) so that clients fail fast; only new flows, so that flows to terminating
  // backends drain.
  if (!readyBackends(frontend).some((b) => b.weight > 0)) rules.push('ct state new reject');
  // Last, so the counter counts what was admitted.
  rules.push(`counter name "${counterName(id)}"`);
  return { rules, allow };
}

function checkFrontend(frontend: Frontend): void {
  const address = parseIp(frontend.address);
  if (address.family !== frontend.family || formatIp(address) !== frontend.address) {
    throw new NftError(NftErrorCode.badFrontend, `${frontend.key}: VIP "${frontend.address}" must be canonical IPv${frontend.family}`);
  }
  if (!Number.isInteger(frontend.port) || frontend.port < 1 || frontend.port > 65535) {
    throw new NftError(NftErrorCode.badFrontend, `${frontend.key}: port ${frontend.port} must be 1..65535`);
  }
}

/**
 * Renders one frontend. A frontend that can't be rendered as asked (bad backend, weights) is
 * rendered closed — every packet dropped — and its problem returned: one bad Service must
 * neither stop the others nor be served in a way nobody asked for.
 */
export function renderFrontend(frontend: Frontend, options: RenderOptions): { rendered: RenderedFrontend; problem?: RenderProblem } {
  checkFrontend(frontend); // the map key itself must be valid: this throws, it can't fail closed
  const id = frontendId(frontend);
  const mapKey = `${frontend.address} . ${frontend.protocol} . ${frontend.port}`;
  const base = { key: frontend.key, id, family: frontend.family, protocol: frontend.protocol, mapKey };
  try {
    const natRules = backendRules(frontend, options);
    const filter = filterRules(frontend, id, mapKey);
    return { rendered: { ...base, natRules, filterRules: filter.rules, allow: filter.allow } };
  } catch (error) {
    if (!(error instanceof NftError)) throw error;
    return {
      rendered: { ...base, natRules: [], filterRules: ['drop', `counter name "${counterName(id)}"`], allow: [] },
      problem: { key: frontend.key, message: error.message },
    };
  }
}

/** Renders the whole desired table. Pure: the same table always gives the same text. */
export function renderTable(table: ServiceTable, options: RenderOptions): RenderedTable {
  const frontends = new Map<string, RenderedFrontend>();
  const problems: RenderProblem[] = [];
  for (const frontend of table.frontends) {
    const { rendered, problem } = renderFrontend(frontend, options);
    frontends.set(rendered.id, rendered);
    if (problem !== undefined) problems.push(problem);
  }
  const deny = {} as Record<Family, string[]>;
  for (const family of [4, 6] as const) {
    const { cidrs, bad } = normalizeCidrs(table.denySources, family);
    deny[family] = cidrs.map(cidrElement);
    if (family === 4) {
      for (const text of bad) problems.push({ key: 'denySources', message: `deny-list entry "${text}" is not a CIDR; skipped` });
    }
  }
  return { frontends, deny, problems };
}

function chainBlock(name: string, rules: readonly string[]): string {
  return [`\tchain ${name} {`, ...rules.map((r) => `\t\t${r}`), '\t}'].join('\n');
}

const KEY_TYPE = { 4: 'ipv4_addr . inet_proto . inet_service', 6: 'ipv6_addr . inet_proto . inet_service' } as const;

/** Declarations of the named sets and maps (their `type`/`typeof` and `flags` lines). */
export const SET_DECLARATIONS: Record<SetName, { readonly kind: 'set' | 'map'; readonly lines: readonly string[] }> = {
  frontends4: { kind: 'map', lines: [`type ${KEY_TYPE[4]} : verdict`] },
  frontends6: { kind: 'map', lines: [`type ${KEY_TYPE[6]} : verdict`] },
  filters4: { kind: 'map', lines: [`type ${KEY_TYPE[4]} : verdict`] },
  filters6: { kind: 'map', lines: [`type ${KEY_TYPE[6]} : verdict`] },
  allow4: { kind: 'set', lines: [`type ${KEY_TYPE[4]} . ipv4_addr`, 'flags interval'] },
  allow6: { kind: 'set', lines: [`type ${KEY_TYPE[6]} . ipv6_addr`, 'flags interval'] },
  deny4: { kind: 'set', lines: ['type ipv4_addr', 'flags interval'] },
  deny6: { kind: 'set', lines: ['type ipv6_addr', 'flags interval'] },
};

/** The elements each named set/map holds for a rendered table. */
export function setElements(rendered: Pick<RenderedTable, 'frontends' | 'deny'>): Record<SetName, string[]> {
  const out: Record<SetName, string[]> = {
    frontends4: [], frontends6: [], filters4: [], filters6: [], allow4: [], allow6: [],
    deny4: [...rendered.deny[4]],
    deny6: [...rendered.deny[6]],
  };
  for (const f of rendered.frontends.values()) {
    const v4 = f.family === 4;
    out[v4 ? 'frontends4' : 'frontends6'].push(natElement(f));
    out[v4 ? 'filters4' : 'filters6'].push(filterElement(f));
    for (const element of f.allow) out[v4 ? 'allow4' : 'allow6'].push(element);
  }
  return out;
}

/** Rules of the base chains; exported for drift checks and tests. */
export function baseChainRules(options: RenderOptions): Record<(typeof BaseChains)[number], string[]> {
  const lookup = (map4: string, map6: string): string[] => [
    `ip daddr . meta l4proto . th dport vmap @${map4}`,
    `ip6 daddr . meta l4proto . th dport vmap @${map6}`,
  ];
  const mark = `0x${options.masqueradeMark.toString(16).padStart(8, '0')}`;
  return {
    // dstnat - 10: after conntrack, before DNAT rewrites the destination, like kube-proxy's
    // nftables mode, so that policy sees the VIP. The output hooks serve clients on the LB
    // node itself (health checks, `curl` by an operator).
    filter_prerouting: ['type filter hook prerouting priority dstnat - 10; policy accept;', ...lookup(SetNames.filter4, SetNames.filter6)],
    // nft accepts the name "dstnat" in output only for nat chains, hence the numbers there.
    filter_output: ['type filter hook output priority -110; policy accept;', ...lookup(SetNames.filter4, SetNames.filter6)],
    nat_prerouting: ['type nat hook prerouting priority dstnat; policy accept;', ...lookup(SetNames.nat4, SetNames.nat6)],
    nat_output: ['type nat hook output priority -100; policy accept;', ...lookup(SetNames.nat4, SetNames.nat6)],
    nat_postrouting: ['type nat hook postrouting priority srcnat; policy accept;', `meta mark & ${mark} == ${mark} masquerade`],
  };
}

/** The whole table as one nft block (without the replace preamble). */
export function renderTableText(rendered: RenderedTable, options: RenderOptions): string {
  const parts: string[] = [`table ${TABLE} {`];
  const elements = setElements(rendered);
  for (const name of Object.values(SetNames)) {
    const { kind, lines } = SET_DECLARATIONS[name];
    const body = lines.map((l) => `\t\t${l}`);
    if (elements[name].length > 0) body.push(`\t\telements = { ${elements[name].join(',\n\t\t\t     ')} }`);
    parts.push([`\t${kind} ${name} {`, ...body, '\t}'].join('\n'));
  }
  for (const f of rendered.frontends.values()) {
    parts.push(`\tcounter ${counterName(f.id)} {\n\t}`);
    parts.push(chainBlock(natChain(f.id), f.natRules));
    parts.push(chainBlock(filterChain(f.id), f.filterRules));
  }
  const base = baseChainRules(options);
  for (const name of BaseChains) parts.push(chainBlock(name, base[name]));
  parts.push('}');
  return `${parts.join('\n')}\n`;
}

/**
 * One transaction that replaces whatever table is there by the rendered one. The leading
 * `add table` makes the delete safe when no table exists; the kernel applies all of it or
 * nothing, so traffic never sees the table missing.
 */
export function renderReplace(rendered: RenderedTable, options: RenderOptions): string {
  return `add table ${TABLE}\ndelete table ${TABLE}\n${renderTableText(rendered, options)}`;
}
