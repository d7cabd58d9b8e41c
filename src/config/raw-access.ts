import { canonicalOrError } from './address-memo.ts';
import { ConfigIssueCode } from './errors.ts';
import type { IssueDraft, PathSegment } from './issue.ts';

/**
 * Reading the raw, parsed YAML in the semantic checks: they run after the schema, but on data
 * the schema may have refused parts of, so every access checks the shape it expects.
 */
export type Rec = Record<string, unknown>;

export function asRecord(value: unknown): Rec | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Rec) : undefined;
}

/** The mapping items of a list, with their indexes; anything else in the list is skipped. */
export function records(value: unknown): [number, Rec][] {
  if (!Array.isArray(value)) return [];
  const out: [number, Rec][] = [];
  value.forEach((item: unknown, i) => {
    const rec = asRecord(item);
    if (rec !== undefined) out.push([i, rec]);
  });
  return out;
}

/** The string items of a list, with their indexes. */
export function strings(value: unknown): [number, string][] {
  if (!Array.isArray(value)) return [];
  const out: [number, string][] = [];
  value.forEach((item: unknown, i) => {
    if (typeof item === 'string') out.push([i, item]);
  });
  return out;
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The canonical text of an address, or undefined when it is none. */
export function tryCanonical(text: string): string | undefined {
  const result = canonicalOrError(text);
  return typeof result === 'string' ? result : undefined;
}

/** A value used twice where it must be unique, pointing at its first use. */
export function duplicate(path: PathSegment[], value: unknown, what: string, firstPath: string): IssueDraft {
  return { code: ConfigIssueCode.duplicate, path, at: 'value', value, message: `${what} is already used at ${firstPath}`, allowed: 'a unique value' };
}

/**
 * An advertisement's `pools` that name no pool of the file. `poolNames` undefined: the file has
 * no `pools:` (Kubernetes mode takes them from the cluster), so names can't be checked here.
 */
export function checkPoolReferences(pools: unknown, path: readonly PathSegment[], poolNames: ReadonlySet<string> | undefined, out: IssueDraft[]): void {
  if (poolNames === undefined) return;
  for (const [j, pool] of strings(pools)) {
    if (poolNames.has(pool)) continue;
    out.push({
      code: ConfigIssueCode.badReference,
      path: [...path, j],
      at: 'value',
      value: pool,
      message: `no pool is named "${pool}"`,
      allowed: `a name from pools: ${[...poolNames].join(', ') || '(none)'}`,
    });
  }
}
