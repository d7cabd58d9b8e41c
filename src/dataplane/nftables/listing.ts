import { canonicalIp, parseCidr, tryParseIp } from '../../net/index.ts';
import { cidrElement } from './render.ts';

/** Packet and byte counts of a set element declared with `counter`. */
export interface ElementCounts {
  readonly packets: bigint;
  readonly bytes: bigint;
}

/** A set or map as listed: declaration lines, elements without their counters, and those. */
export interface ListedSet {
  /** type/typeof/flags/counter lines. */
  readonly declaration: readonly string[];
  readonly elements: readonly string[];
  /** Element → its counts, for sets whose elements carry a counter. */
  readonly counts: ReadonlyMap<string, ElementCounts>;
}

/** What `nft list table` (or `list set`) printed, split by object. */
export interface Listing {
  /** The table's `comment "…"`, without quotes; undefined when it has none. */
  comment: string | undefined;
  /** Chain name → its body (type line and rules, one per line, trimmed). */
  readonly chains: Map<string, string>;
  /** Set or map name → what it holds, as printed. */
  readonly sets: Map<string, ListedSet>;
  /** The elements are already in normalizeElement's form (read over netlink, not printed by nft). */
  readonly normalized?: boolean;
}

/**
 * One table's block out of a listing of several (`list ruleset inet`), or undefined when the
 * table is not there. Top-level blocks open with `table <family> <name> {` and close with a `}`
 * at the start of a line.
 */
export function tableBlock(text: string, table: string): string | undefined {
  const open = `table ${table} {\n`;
  const start = text.startsWith(open) ? 0 : text.indexOf(`\n${open}`) + 1;
  if (start <= 0 && !text.startsWith(open)) return undefined;
  const end = text.indexOf('\n}', start);
  return end < 0 ? undefined : text.slice(start, end + 2);
}

const OBJECT_START = /^(chain|set|map|counter) (\S+) \{$/;
const TABLE_COMMENT = /^comment "(.*)"$/;

/**
 * Parses nft's text listing of the vipgate table. Only the shapes vipgate itself writes are
 * understood; anything else inside a chain is kept as text and so shows up as drift.
 */
export function parseListing(text: string): Listing {
  const listing: Listing = { comment: undefined, chains: new Map(), sets: new Map() };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const comment = TABLE_COMMENT.exec(line);
    // Object bodies are skipped whole below, so a comment line seen here is the table's.
    if (comment !== null) listing.comment = comment[1];
    const start = OBJECT_START.exec(line);
    if (start === null) continue;
    const [, kind, name] = start as unknown as [string, string, string];
    const body: string[] = [];
    // Objects of a table never nest, so the first line that is only "}" closes this one.
    for (i++; i < lines.length && lines[i]!.trim() !== '}'; i++) body.push(lines[i]!.trim());
    // Named objects (counters, quotas) are not part of this layout; they are ignored.
    if (kind === 'chain') listing.chains.set(name, body.join('\n'));
    else if (kind !== 'counter') listing.sets.set(name, setBody(body));
  }
  return listing;
}

const COUNTED = /^(.*) counter packets (\d+) bytes (\d+)$/;

function setBody(body: readonly string[]): ListedSet {
  const at = body.findIndex((l) => l.startsWith('elements = {'));
  const declaration = (at < 0 ? body : body.slice(0, at)).filter((l) => l !== '');
  const counts = new Map<string, ElementCounts>();
  if (at < 0) return { declaration, elements: [], counts };
  const joined = body.slice(at).join(' ');
  const end = joined.lastIndexOf('}');
  const elements: string[] = [];
  for (const raw of joined.slice('elements = {'.length, end).split(',')) {
    const e = raw.trim();
    if (e === '') continue;
    const m = COUNTED.exec(e);
    if (m === null) elements.push(e);
    else {
      elements.push(m[1]!);
      counts.set(m[1]!, { packets: BigInt(m[2]!), bytes: BigInt(m[3]!) });
    }
  }
  return { declaration, elements, counts };
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
      // nft prints IPv4 addresses canonically already; only prefixes and IPv6 text may differ
      // from ours, and skipping the rest keeps a 100k-element listing cheap to read.
      if (!token.includes(':') && !token.includes('/')) return token;
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
