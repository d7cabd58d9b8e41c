import { readyBackends, type Backend, type Frontend, type Protocol, type ServiceTable } from '../../model/index.ts';
import { cidrCovers, formatIp, parseCidr, parseIp, tryParseIp, type Cidr, type Family, type IpAddress } from '../../net/index.ts';
import { NftError, NftErrorCode } from './errors.ts';
import { MAX_SLOTS, pickChain } from './layout.ts';
import { prefixOf, type Prefix, type Slot, type VipKey } from './set-elements.ts';

export * from './layout.ts';
export { cidrElement } from './set-elements.ts';

/**
 * One frontend as elements of the shared sets and maps. Nothing here is a rule: a frontend
 * is a key (`10.200.0.5 . tcp . 80`) present in some sets, plus its slots in the backends map.
 * The same shape is read back from the kernel (readback.ts), so both compare field by field.
 */
export interface RenderedFrontend {
  /** The model's key, `10.200.0.5:80/tcp`. */
  readonly key: string;
  readonly family: Family;
  readonly protocol: Protocol;
  /** `10.200.0.5 . tcp . 80`: the key in every per-frontend set, as nft lists it (`vip.text`). */
  readonly mapKey: string;
  /** The same key, parsed. */
  readonly vip: VipKey;
  /** Its element's verdict in frontends4/6, `goto <pick chain>`; undefined when no backend takes new flows. */
  readonly verdict: string | undefined;
  /** Slot → backend (`backendIP . port`); a weight-w backend holds w slots. Holes only when read back. */
  readonly slots: readonly (Slot | undefined)[];
  /** Has its element (and so its packet counter) in counters4/6; false only when read back without one. */
  readonly counter: boolean;
  readonly masquerade: boolean;
  /** In closed4/6: new flows rejected (no ready backend, or a frontend that can't be served). */
  readonly closed: boolean;
  /** In restricted4/6: only sources in `allow` are admitted (none: nobody is). */
  readonly restricted: boolean;
  /** Client prefixes admitted, as interval-set elements (host prefixes bare), sorted as text. */
  readonly allow: readonly Prefix[];
}

/** Something in the table that could not be served as asked. */
export interface RenderProblem {
  readonly key: string;
  readonly message: string;
}

/** A rendered frontend with what it was rendered from, so that an unchanged one is not rendered again. */
export interface FrontendEntry {
  readonly rendered: RenderedFrontend;
  /** The model frontend it was rendered from; undefined when read back from the kernel. */
  readonly input: Frontend | undefined;
  readonly problem: RenderProblem | undefined;
}

export interface RenderedTable {
  /** By frontend key, in table order. */
  readonly frontends: ReadonlyMap<string, FrontendEntry>;
  /** Deny-list elements per family, sorted, without covered prefixes (text as nft lists them). */
  readonly deny: Readonly<Record<Family, readonly Prefix[]>>;
  readonly problems: readonly RenderProblem[];
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

/**
 * Slot counts for weights: divided by their gcd; if they still add up to more than MAX_SLOTS,
 * scaled down to MAX_SLOTS by largest remainder, every backend keeping at least one slot (so
 * shares are then approximate). Needs 1 ≤ weights.length ≤ MAX_SLOTS and weights ≥ 1.
 */
export function slotCounts(weights: readonly number[]): number[] {
  const divisor = weights.reduce((g, w) => gcd(g, w), 0);
  const reduced = weights.map((w) => w / divisor);
  const total = reduced.reduce((sum, w) => sum + w, 0);
  if (total <= MAX_SLOTS) return reduced;
  const spare = MAX_SLOTS - reduced.length;
  const exact = reduced.map((w) => (w * spare) / total);
  const counts = exact.map((x) => 1 + Math.floor(x));
  let left = MAX_SLOTS - counts.reduce((sum, c) => sum + c, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left === 0) break;
    counts[i]! += 1;
    left -= 1;
  }
  return counts;
}

/**
 * True when two model frontends render the same: every field rendering reads, compared in
 * place. A pass over 10k unchanged frontends then allocates nothing (building a signature
 * string per frontend instead cost ~30 ms and its garbage).
 */
export function sameInput(a: Frontend, b: Frontend): boolean {
  if (a === b) return true;
  if (
    a.address !== b.address || a.port !== b.port || a.protocol !== b.protocol || a.family !== b.family ||
    a.sessionAffinity !== b.sessionAffinity || a.snat !== b.snat || a.backends.length !== b.backends.length
  ) return false;
  const sa = a.allowedSources;
  const sb = b.allowedSources;
  if (sa !== sb && (sa === 'any' || sb === 'any' || sa.length !== sb.length || sa.some((x, i) => x !== sb[i]))) return false;
  for (let i = 0; i < a.backends.length; i++) {
    const x = a.backends[i]!;
    const y = b.backends[i]!;
    if (x.address !== y.address || x.port !== y.port || x.weight !== y.weight || x.state !== y.state) return false;
  }
  return true;
}

/** A rendered frontend's kernel content as one string: equal strings, nothing to write. */
export function contentSignature(r: RenderedFrontend): string {
  const slots = r.slots.map((s) => s?.text ?? '').join(',');
  const allow = r.allow.map((p) => p.text).join(',');
  return `${r.verdict ?? '-'}|${slots}|${r.counter ? 'n' : ''}|${r.masquerade ? 'm' : ''}${r.closed ? 'c' : ''}${r.restricted ? 'r' : ''}|${allow}`;
}

/** The backend's address, parsed; throws NftError(badFrontend) for a backend that can't be served. */
function checkBackend(frontend: Frontend, b: Backend): IpAddress {
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
  return address;
}

/** The VIP, parsed; throws NftError(badFrontend) for a key that can't be written. */
function checkFrontend(frontend: Frontend): IpAddress {
  const address = parseIp(frontend.address);
  if (address.family !== frontend.family || formatIp(address) !== frontend.address) {
    throw new NftError(NftErrorCode.badFrontend, `${frontend.key}: VIP "${frontend.address}" must be canonical IPv${frontend.family}`);
  }
  if (!Number.isInteger(frontend.port) || frontend.port < 1 || frontend.port > 65535) {
    throw new NftError(NftErrorCode.badFrontend, `${frontend.key}: port ${frontend.port} must be 1..65535`);
  }
  return address;
}

function slotsOf(frontend: Frontend): { slots: Slot[]; problem?: string } {
  const addresses = new Map<Backend, IpAddress>();
  for (const b of frontend.backends) addresses.set(b, checkBackend(frontend, b));
  // Only ready backends take new flows; terminating ones keep theirs through conntrack, which
  // never consults the backends map again for an established flow. Weight 0 takes no new flows.
  let ready = readyBackends(frontend)
    .filter((b) => b.weight > 0)
    .slice()
    .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
  let problem: string | undefined;
  if (ready.length > MAX_SLOTS) {
    problem = `${frontend.key}: ${ready.length} ready backends; only the first ${MAX_SLOTS} (by address) take new flows`;
    ready = ready.slice(0, MAX_SLOTS);
  }
  const counts = ready.length === 0 ? [] : slotCounts(ready.map((b) => b.weight));
  const slots: Slot[] = [];
  ready.forEach((b, i) => {
    // join, not a template: V8 keeps a concatenation as a tree of cons strings, and 100k of
    // them cost several times the flat text. One object for all of a backend's slots.
    const value: Slot = { address: addresses.get(b)!, port: b.port, text: [b.address, b.port].join(' . ') };
    for (let k = 0; k < counts[i]!; k++) slots.push(value);
  });
  return problem === undefined ? { slots } : { slots, problem };
}

/**
 * Renders one frontend. A frontend that can't be rendered as asked (bad backend, weights) is
 * rendered closed — restricted with nobody allowed, so every packet is dropped — and its
 * problem returned: one bad Service must neither stop the others nor be served in a way
 * nobody asked for.
 */
export function renderFrontend(frontend: Frontend): { rendered: RenderedFrontend; problem?: RenderProblem } {
  const address = checkFrontend(frontend); // the map key itself must be valid: this throws, it can't fail closed
  const mapKey = [frontend.address, frontend.protocol, frontend.port].join(' . ');
  const base = {
    key: frontend.key,
    family: frontend.family,
    protocol: frontend.protocol,
    mapKey,
    vip: { address, protocol: frontend.protocol, port: frontend.port, text: mapKey },
    counter: true,
  };
  try {
    const { slots, problem } = slotsOf(frontend);
    let allow: Prefix[] = [];
    if (frontend.allowedSources !== 'any') {
      const { cidrs, bad } = normalizeCidrs(frontend.allowedSources, frontend.family);
      if (bad.length > 0) throw new NftError(NftErrorCode.badFrontend, `${frontend.key}: source range "${bad[0]}" is not a CIDR`);
      allow = cidrs.map(prefixOf).sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
    }
    const method = frontend.sessionAffinity === 'ClientIP' ? 'hash' : 'random';
    const rendered: RenderedFrontend = {
      ...base,
      verdict: slots.length === 0 ? undefined : `goto ${pickChain(frontend.family, frontend.protocol, method, slots.length)}`,
      slots,
      masquerade: frontend.snat === 'masquerade',
      closed: slots.length === 0,
      // An empty list admits nobody (see Frontend.allowedSources).
      restricted: frontend.allowedSources !== 'any',
      allow,
    };
    return problem === undefined ? { rendered } : { rendered, problem: { key: frontend.key, message: problem } };
  } catch (error) {
    if (!(error instanceof NftError)) throw error;
    return {
      rendered: { ...base, verdict: undefined, slots: [], masquerade: false, closed: true, restricted: true, allow: [] },
      problem: { key: frontend.key, message: error.message },
    };
  }
}

/**
 * Renders the whole desired table. Pure: the same table always gives the same result.
 * `previous` (what was last installed) lets a frontend whose input did not change reuse its
 * rendering, so a pass over 10k unchanged frontends costs string compares, not renders.
 */
export function renderTable(table: ServiceTable, previous?: ReadonlyMap<string, FrontendEntry>): RenderedTable {
  const frontends = new Map<string, FrontendEntry>();
  const problems: RenderProblem[] = [];
  for (const frontend of table.frontends) {
    const old = previous?.get(frontend.key);
    let entry: FrontendEntry;
    if (old?.input !== undefined && sameInput(old.input, frontend)) entry = old;
    else {
      const { rendered, problem } = renderFrontend(frontend);
      entry = { rendered, input: frontend, problem };
    }
    frontends.set(frontend.key, entry);
    if (entry.problem !== undefined) problems.push(entry.problem);
  }
  const deny = {} as Record<Family, Prefix[]>;
  for (const family of [4, 6] as const) {
    const { cidrs, bad } = normalizeCidrs(table.denySources, family);
    deny[family] = cidrs.map(prefixOf);
    if (family === 4) {
      for (const text of bad) problems.push({ key: 'denySources', message: `deny-list entry "${text}" is not a CIDR; skipped` });
    }
  }
  return { frontends, deny, problems };
}
