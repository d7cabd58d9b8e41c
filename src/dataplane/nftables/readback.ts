// The kernel's table, read back into the same shape this process keeps of what it applied, so
// that an agent restart or a periodic drift check is just a diff against it.
import { frontendKey, Protocols, type Protocol } from '../../model/index.ts';
import { formatIp, parseCidr, tryParseIp, type Family } from '../../net/index.ts';
import { chainUse, type InstalledState } from './diff.ts';
import { normalizeElement, type Listing } from './listing.ts';
import {
  FixedChains,
  LAYOUT_VERSION,
  SET_DECLARATIONS,
  SetNames,
  backendsOf,
  contentSignature,
  fixedChainRules,
  normalizeCidrs,
  setsOf,
  type FrontendEntry,
  type RenderOptions,
  type RenderedFrontend,
} from './render.ts';
import { prefixOf, type Prefix, type Slot, type VipKey } from './set-elements.ts';

/**
 * What makes an installed table unusable as a base for element-level changes: another layout
 * version, or a fixed chain or set declaration that differs. Empty when it can be reconciled.
 */
export function skeletonDrift(listing: Listing, options: RenderOptions): string[] {
  if (listing.comment !== LAYOUT_VERSION) return [`layout "${listing.comment ?? '(none)'}", not "${LAYOUT_VERSION}"`];
  const what: string[] = [];
  const fixed = fixedChainRules(options);
  for (const name of FixedChains) {
    if (listing.chains.get(name) !== fixed[name].join('\n')) what.push(`chain ${name}`);
  }
  for (const name of Object.values(SetNames)) {
    const listed = listing.sets.get(name);
    if (listed === undefined) what.push(`set ${name} missing`);
    else if (listed.declaration.join('\n') !== SET_DECLARATIONS[name].lines.join('\n')) what.push(`set ${name} declared differently`);
  }
  return what;
}

interface Draft {
  key: string;
  family: Family;
  protocol: Protocol;
  mapKey: string;
  vip: VipKey;
  verdict: string | undefined;
  slots: (Slot | undefined)[];
  counter: boolean;
  masquerade: boolean;
  closed: boolean;
  restricted: boolean;
  allow: Prefix[];
}

const SEP = ' . ';

/** An address as nft lists it, parsed; undefined when it is not one of `family` in canonical text. */
function addressOf(text: string, family: Family): ReturnType<typeof tryParseIp> {
  const ip = tryParseIp(text);
  return ip?.family === family && formatIp(ip) === text ? ip : undefined;
}

/** An allow-list element: a prefix, or (written by hand) something known only by its text. */
function allowPrefix(text: string, family: Family): Prefix {
  try {
    const cidr = parseCidr(text);
    if (cidr.family === family && prefixOf(cidr).text === text) return { cidr, text };
  } catch {
    // a range: below
  }
  return { cidr: undefined, text };
}

/**
 * The installed state as the listing shows it. Elements are grouped by their frontend key
 * (`VIP . proto . port`); elements of no frontend vipgate could have written (an unknown
 * protocol, say) are left out, and so are not touched.
 */
export function installedFromListing(listing: Listing): InstalledState {
  const drafts = new Map<string, Draft>();
  const draft = (family: Family, parts: readonly string[]): Draft | undefined => {
    if (parts.length < 3) return undefined;
    const [address, protocol, port] = parts as [string, string, string];
    if (!(Protocols as readonly string[]).includes(protocol) || !/^\d+$/.test(port)) return undefined;
    const mapKey = `${address}${SEP}${protocol}${SEP}${port}`;
    let d = drafts.get(mapKey);
    if (d === undefined) {
      const p = protocol as Protocol;
      const ip = addressOf(address, family);
      if (ip === undefined) return undefined;
      d = {
        key: frontendKey(address, Number(port), p),
        family,
        protocol: p,
        mapKey,
        vip: { address: ip, protocol: p, port: Number(port), text: mapKey },
        verdict: undefined,
        slots: [],
        counter: false,
        masquerade: false,
        closed: false,
        restricted: false,
        allow: [],
      };
      drafts.set(mapKey, d);
    }
    return d;
  };
  const elements = (name: string): readonly string[] => {
    const listed = listing.sets.get(name)?.elements ?? [];
    return listing.normalized === true ? listed : listed.map(normalizeElement);
  };
  /** Splits `k1 . k2 . k3 … : v` into key parts and value. */
  const split = (element: string): { parts: string[]; value: string | undefined } => {
    const at = element.indexOf(' : ');
    return { parts: (at < 0 ? element : element.slice(0, at)).split(SEP), value: at < 0 ? undefined : element.slice(at + 3) };
  };

  const deny = { 4: [] as Prefix[], 6: [] as Prefix[] };
  // Backends by their text: a backend's slots (and the same backend of other frontends) share one.
  const slotValues = new Map<string, Slot | undefined>();
  const slotOf = (text: string, family: Family): Slot | undefined => {
    if (slotValues.has(text)) return slotValues.get(text);
    const cut = text.indexOf(SEP);
    const port = text.slice(cut + SEP.length);
    const ip = cut < 0 || !/^\d+$/.test(port) ? undefined : addressOf(text.slice(0, cut), family);
    const slot = ip === undefined ? undefined : { address: ip, port: Number(port), text };
    slotValues.set(text, slot);
    return slot;
  };
  for (const family of [4, 6] as const) {
    const s = setsOf(family);
    for (const e of elements(s.frontends)) {
      const { parts, value } = split(e);
      const d = draft(family, parts);
      if (d !== undefined) d.verdict = value;
    }
    for (const protocol of Protocols) {
      // Nearly every element of the table is here (10 per frontend at 10k frontends): cut with
      // indexOf, and parse a frontend's key once, not per slot — a full read-back must not make
      // 100k arrays of garbage.
      for (const e of elements(backendsOf(family, protocol))) {
        const at = e.indexOf(' : ');
        const cut = at < 0 ? -1 : e.lastIndexOf(SEP, at);
        if (cut < 0) continue;
        const slotText = e.slice(cut + SEP.length, at);
        if (!/^\d+$/.test(slotText)) continue;
        const mapKey = e.slice(0, cut);
        const d = drafts.get(mapKey) ?? draft(family, mapKey.split(SEP));
        // An element under the other protocol's key can't have been written by us: left alone.
        if (d === undefined || d.protocol !== protocol || d.mapKey !== mapKey) continue;
        // A value that is no backend stays a hole: it differs from any rendering, and the
        // element already there makes the add fail, which the dataplane repairs.
        d.slots[Number(slotText)] = slotOf(e.slice(at + 3), family);
      }
    }
    for (const [set, field] of [[s.counters, 'counter'], [s.masq, 'masquerade'], [s.closed, 'closed'], [s.restricted, 'restricted']] as const) {
      for (const e of elements(set)) {
        const d = draft(family, split(e).parts);
        if (d !== undefined) d[field] = true;
      }
    }
    for (const e of elements(s.allow)) {
      const { parts } = split(e);
      const d = draft(family, parts);
      if (d !== undefined && parts.length === 4) d.allow.push(allowPrefix(parts[3]!, family));
    }
    // Sorted and de-overlapped the way renderTable writes it, so that equal lists compare equal.
    deny[family] = normalizeCidrs(elements(s.deny), family).cidrs.map(prefixOf);
  }

  const frontends = new Map<string, FrontendEntry>();
  for (const d of drafts.values()) {
    // A hole in the slots is kept as one, so it differs from any rendering and gets rewritten.
    const slots = Array.from({ length: d.slots.length }, (_, i) => d.slots[i]);
    const rendered: RenderedFrontend = { ...d, slots, allow: d.allow.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0)) };
    frontends.set(d.key, { rendered, input: undefined, problem: undefined });
  }
  const fixed = new Set<string>(FixedChains);
  const chains = new Map([...listing.chains].filter(([name]) => !fixed.has(name)));
  return { frontends, deny, chains, pickUse: chainUse(frontends.values()) };
}

/**
 * The frontends, deny lists and chains in which `kernel` differs from `ours` (what this process
 * applied), for the log; empty when they agree. Where they agree, `merge` keeps our entries,
 * whose model frontends let the next diff skip them without rendering.
 */
export function compareInstalled(ours: InstalledState, kernel: InstalledState): { what: string[]; merged: InstalledState } {
  const what: string[] = [];
  const frontends = new Map<string, FrontendEntry>();
  for (const [key, k] of kernel.frontends) {
    const o = ours.frontends.get(key);
    if (o !== undefined && contentSignature(o.rendered) === contentSignature(k.rendered)) frontends.set(key, o);
    else {
      frontends.set(key, k);
      what.push(o === undefined ? `stray frontend ${key}` : `frontend ${key}`);
    }
  }
  for (const key of ours.frontends.keys()) if (!kernel.frontends.has(key)) what.push(`frontend ${key} missing`);
  for (const family of [4, 6] as const) {
    const text = (prefixes: readonly Prefix[]): string => prefixes.map((p) => p.text).join(',');
    if (text(ours.deny[family]) !== text(kernel.deny[family])) what.push(`deny${family}`);
  }
  for (const [name, body] of ours.chains) if (kernel.chains.get(name) !== body) what.push(`chain ${name}`);
  for (const name of kernel.chains.keys()) if (!ours.chains.has(name)) what.push(`stray chain ${name}`);
  return { what, merged: { ...kernel, frontends } };
}
