/**
 * The config text cut at its top-level `services:` list items, so that a reload can re-read only
 * the items whose text changed (src/config/incremental.ts). The cut is by lines and only where it
 * is plainly right: a block list under a `services:` key at column 0, its items starting at one
 * indentation with `- `. Anything else — a flow list, a document marker, a carriage return, two
 * `services:` keys, a line the list's indentation does not explain — gives undefined, and the
 * caller reads the whole file as before.
 */
export interface ServiceItems {
  /** Every line that is not an item, `services:` included: equal heads, equal everything but the services. */
  readonly head: string;
  /** Each item's lines, in order; comment lines and blank lines travel with the item above them. */
  readonly items: readonly string[];
}

const SERVICES_KEY = /^services:[ ]*(?:#.*)?$/;
const DOCUMENT_MARKER = /^(?:---|\.\.\.)(?:[ \t]|$)/;

export function splitServiceItems(text: string): ServiceItems | undefined {
  if (text.includes('\r')) return undefined;
  const lines = text.split('\n');
  let keyAt = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (DOCUMENT_MARKER.test(line)) return undefined;
    if (!SERVICES_KEY.test(line)) continue;
    if (keyAt >= 0) return undefined;
    keyAt = i;
  }
  if (keyAt < 0) return undefined;
  const list = listBlock(lines, keyAt + 1);
  if (list === undefined || list.starts.length === 0) return undefined;
  const items = list.starts.map((start, k) => lines.slice(start, list.starts[k + 1] ?? list.end).join('\n'));
  const head = [...lines.slice(0, list.starts[0]), '\u0000', ...lines.slice(list.end)].join('\n');
  return { head, items };
}

/** Where each item of the list below line `from` starts, and the first line after the list. */
function listBlock(lines: readonly string[], from: number): { starts: number[]; end: number } | undefined {
  const starts: number[] = [];
  let indent = -1;
  let i = from;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    const own = line.length - line.trimStart().length;
    const rest = line.slice(own);
    if (rest === '' || rest.startsWith('#')) continue;
    const isItem = rest === '-' || rest.startsWith('- ');
    if (indent < 0) {
      if (!isItem) return undefined;
      indent = own;
    }
    if (own === indent && isItem) starts.push(i);
    else if (own === 0) break; // the next top-level key: the list ended
    else if (own <= indent) return undefined;
  }
  // Comment and blank lines after the last item and before the next key stay with that item.
  return { starts, end: i };
}
