import { FAILSAFE_SCHEMA, load, Type } from 'js-yaml';
import { isScalar, Schema, type ScalarTag } from 'yaml';

/**
 * The config file as plain data through js-yaml, ~10× faster than the `yaml` package's document
 * (bench/HISTORY.md §9: 10,000 services, ~0.2 s against ~1.9 s). It keeps no positions, so it
 * only serves files that turn out valid: the loader runs the `yaml` document path (positions,
 * every error with its file:line) whenever this gives nothing or the data has a problem.
 *
 * Plain scalars resolve with the `yaml` package's own YAML 1.2 core tags (the tests and
 * resolvers below are taken from it, not copied), so `on`, `no`, `0755` and `1e3` mean here what
 * they mean on the error path. Text that uses what the two parsers treat differently, or what
 * only the document path guards (anchors and aliases with their expansion limit, tags,
 * directives, explicit keys, tabs, a byte order mark), goes to the document path unread.
 */
export function fastPlainData(text: string): { readonly data: unknown } | undefined {
  if (needsDocumentPath(text) || !linesAreSimple(text)) return undefined;
  try {
    return { data: load(text, { schema: coreSchema(), json: false }) };
  } catch {
    // js-yaml's message has no field path; the document path words the error.
    return undefined;
  }
}

/**
 * `&anchor`, `*alias`, `!tag`, `%DIRECTIVE`, `? key`, a tab, a BOM. Conservative on purpose: an
 * `&` inside a quoted password also sends the file the slow way, which is only slower.
 */
const NEEDS_DOCUMENT_PATH = /[&*!%\t\uFEFF]|^\s*\?/m;

/** Whether the text uses what only the document path reads (NEEDS_DOCUMENT_PATH). */
export function needsDocumentPath(text: string): boolean {
  return NEEDS_DOCUMENT_PATH.test(text);
}

/**
 * Whether every line closes what it opens: its quotes and its flow collections (`[…]`, `{…}`),
 * with any `#` comment set off by a space. Where js-yaml and the `yaml` package part ways on a
 * damaged file (a flow collection or a quoted scalar carried over into a line the `yaml` package
 * finds under-indented, a `#` glued to a value), the text breaks this rule, so it goes to the
 * document path, which reports it. Conservative again: `name: it's` goes there too.
 */
export function linesAreSimple(text: string): boolean {
  let depth = 0;
  let quote = '';
  let previous = '\n';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n' || c === '\r') {
      if (quote !== '' || depth !== 0) return false;
    } else if (quote !== '') {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"') i++;
    } else if (c === '#') {
      if (previous !== ' ' && previous !== '\n') return false;
      // The rest of the line is a comment.
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '[' || c === '{') {
      depth++;
    } else if ((c === ']' || c === '}') && --depth < 0) {
      return false;
    }
    previous = c;
  }
  return quote === '' && depth === 0;
}

let schema: ReturnType<typeof FAILSAFE_SCHEMA.extend> | undefined;

function coreSchema(): ReturnType<typeof FAILSAFE_SCHEMA.extend> {
  if (schema !== undefined) return schema;
  const scalarTags = new Schema({ schema: 'core' }).tags.filter((t): t is ScalarTag => 'test' in t && t.test instanceof RegExp && t.default === true);
  // js-yaml keeps one type per tag name, so the `yaml` package's three ints (and three floats)
  // become one type each that tries them in the `yaml` package's order.
  const byName = new Map<string, ScalarTag[]>();
  for (const tag of scalarTags) byName.set(tag.tag, [...(byName.get(tag.tag) ?? []), tag]);
  const matching = (tags: readonly ScalarTag[], data: string | null): ScalarTag | undefined => tags.find((t) => t.test?.test(data ?? '') === true);
  const implicit = [...byName].map(
    ([name, tags]) =>
      new Type(name, {
        kind: 'scalar',
        // js-yaml passes null for an empty value (`key:`), which the core null tag matches as ''.
        resolve: (data: string | null) => matching(tags, data) !== undefined,
        construct: (data: string | null) => {
          const value = matching(tags, data)?.resolve(data ?? '', () => undefined, RESOLVE_OPTIONS);
          return isScalar(value) ? value.value : value;
        },
      }),
  );
  schema = FAILSAFE_SCHEMA.extend({ implicit });
  return schema;
}

/** What `doc.toJS()` resolves numbers with: plain numbers, no BigInt. */
const RESOLVE_OPTIONS = { intAsBigInt: false } as Parameters<ScalarTag['resolve']>[2];
