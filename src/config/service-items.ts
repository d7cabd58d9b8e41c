/**
 * The config text cut at its top-level `services:` list items, so that a reload can re-read only
 * the items whose text changed (src/config/incremental.ts). The cut is by lines and only where it
 * is plainly right: a block list under a `services:` key at column 0, its items starting at one
 * indentation with `- `. Anything else — a flow list, a document marker, a carriage return, two
 * `services:` keys, a line the list's indentation does not explain — gives undefined, and the
 * caller reads the whole file as before.
 */
export interface ServiceItems {
  /**
   * The text with the items cut out and a NUL where they were: equal heads, equal everything but
   * the services. `head` split at the NUL, around the items joined, is the text again.
   */
  readonly head: string;
  /** Each item's lines with their line ends, in order; comment and blank lines go with the item above. */
  readonly items: readonly string[];
}

const SERVICES_KEY = /^services:[ ]*(?:#.*)?$/gm;
const DOCUMENT_MARKER = /^(?:---|\.\.\.)(?:[ \t]|$)/m;

export function splitServiceItems(text: string): ServiceItems | undefined {
  if (text.includes('\r') || DOCUMENT_MARKER.test(text)) return undefined;
  const keys = [...text.matchAll(SERVICES_KEY)];
  if (keys.length !== 1) return undefined;
  const key = keys[0]!;
  const afterKey = text.indexOf('\n', key.index + key[0].length);
  if (afterKey < 0) return undefined;
  const list = listBlock(text, afterKey + 1);
  if (list === undefined || list.starts.length === 0) return undefined;
  const { starts, end } = list;
  const items = starts.map((start, k) => text.slice(start, starts[k + 1] ?? end));
  return { head: `${text.slice(0, starts[0])}\u0000${text.slice(end)}`, items };
}

/** Where each item of the list from offset `from` starts, and where the text after the list starts. */
function listBlock(text: string, from: number): { starts: number[]; end: number } | undefined {
  const starts: number[] = [];
  let indent = -1;
  let at = from;
  while (at < text.length) {
    const lineEnd = text.indexOf('\n', at);
    const next = lineEnd < 0 ? text.length : lineEnd + 1;
    let own = at;
    while (text.charCodeAt(own) === SPACE) own++;
    const first = own < text.length ? text.charCodeAt(own) : NEWLINE;
    // Blank and comment lines say nothing about the structure.
    if (first !== NEWLINE && first !== HASH) {
      const isItem = first === DASH && (own + 1 === text.length || text.charCodeAt(own + 1) === SPACE || text.charCodeAt(own + 1) === NEWLINE);
      const column = own - at;
      if (indent < 0) {
        if (!isItem) return undefined;
        indent = column;
      }
      if (column === indent && isItem) starts.push(at);
      else if (column === 0) break; // the next top-level key: the list ended
      else if (column <= indent) return undefined;
    }
    at = next;
  }
  // Comment and blank lines after the last item and before the next key stay with that item.
  return { starts, end: Math.min(at, text.length) };
}

const SPACE = 0x20;
const NEWLINE = 0x0a;
const HASH = 0x23;
const DASH = 0x2d;
