import { canonicalIp, parseCidr, tryParseIp } from '../../net/index.ts';
import { cidrElement } from './render.ts';

/** What `nft list table` (or `list chain`/`list counters`) printed, split by object. */
export interface Listing {
  /** Chain name → its body (type line and rules, one per line, trimmed). */
  readonly chains: Map<string, string>;
  /** Set or map name → its elements, as printed. */
  readonly sets: Map<string, string[]>;
  readonly counters: Map<string, { readonly packets: bigint; readonly bytes: bigint }>;
}

const OBJECT_START = /^(chain|set|map|counter) (\S+) \{$/;

/**
 * Parses nft's text listing of the vipgate table. Only the shapes vipgate itself writes are
 * understood; anything else inside a chain is kept as text and so shows up as drift.
 */
export function parseListing(text: string): Listing {
  const listing: Listing = { chains: new Map(), sets: new Map(), counters: new Map() };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = OBJECT_START.exec(lines[i]!.trim());
    if (start === null) continue;
    const [, kind, name] = start as unknown as [string, string, string];
    const body: string[] = [];
    // Objects of a table never nest, so the first line that is only "}" closes this one.
    for (i++; i < lines.length && lines[i]!.trim() !== '}'; i++) body.push(lines[i]!.trim());
    if (kind === 'chain') listing.chains.set(name, body.join('\n'));
    else if (kind === 'counter') {
      const m = /packets (\d+) bytes (\d+)/.exec(body.join(' '));
      listing.counters.set(name, { packets: BigInt(m?.[1] ?? 0), bytes: BigInt(m?.[2] ?? 0) });
    } else listing.sets.set(name, elementsOf(body));
  }
  return listing;
}

function elementsOf(body: readonly string[]): string[] {
  const joined = body.join(' ');
  const at = joined.indexOf('elements = {');
  if (at < 0) return [];
  const end = joined.lastIndexOf('}');
  return joined
    .slice(at + 'elements = {'.length, end < at ? undefined : end)
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
}

/**
 * An element in the form vipgate renders it, so that a listing can be compared with the
 * desired elements: addresses canonical, host prefixes bare. Unknown shapes stay as they are
 * (and then differ, which is what a drift check wants).
 */
export function normalizeElement(element: string): string {
  return element
    .split(' ')
    .map((token) => {
      if (token.includes('/')) {
        try {
          return cidrElement(parseCidr(token));
        } catch {
          return token;
        }
      }
      return tryParseIp(token) === undefined ? token : canonicalIp(token);
    })
    .join(' ');
}
