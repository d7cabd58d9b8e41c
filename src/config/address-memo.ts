import { canonicalIp, NetError } from '../net/index.ts';

/**
 * Canonical address text by the text as written, remembered across loads. A 10,000-service file
 * names each address three times over (the schema's `ip` format, the cross-field checks, the
 * defaults), and a reload names the same addresses again: parsing them was the largest single
 * cost of a reload (bench/HISTORY.md §9). Bounded: cleared when it grows past what any sane file
 * holds, so a stream of edited files can't grow it forever.
 */
const canonicalByText = new Map<string, string | NetError>();
const MAX_REMEMBERED = 200_000;

/** The canonical text of an address, or the NetError saying why it is none. */
export function canonicalOrError(text: string): string | NetError {
  let result = canonicalByText.get(text);
  if (result === undefined) {
    try {
      result = canonicalIp(text);
    } catch (err) {
      if (!(err instanceof NetError)) throw err;
      result = err;
    }
    if (canonicalByText.size >= MAX_REMEMBERED) canonicalByText.clear();
    canonicalByText.set(text, result);
  }
  return result;
}

/** canonicalIp, remembered: throws the same NetError for text that is no address. */
export function rememberedCanonicalIp(text: string): string {
  const result = canonicalOrError(text);
  if (result instanceof NetError) throw result;
  return result;
}
