import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter } from 'yaml';
import type { ConfigIssue, ConfigIssueCode } from './errors.ts';

export type PathSegment = string | number;

/**
 * An issue before it has a position: the checks work on plain data, and the loader finds the
 * line and column in the YAML document afterwards.
 */
export interface IssueDraft {
  readonly code: ConfigIssueCode;
  readonly path: readonly PathSegment[];
  /**
   * Where to point: at the field's value, at its key (unknown fields), or at the mapping
   * that lacks it (missing fields).
   */
  readonly at: 'value' | 'key' | 'parent';
  readonly value: unknown;
  readonly message: string;
  readonly allowed: string;
  readonly hint?: string;
}

/** `services[1].ports[0].port` */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

interface Ranged {
  range?: readonly [number, number, number] | null;
}

function startOf(node: unknown): number | undefined {
  const range = (node as Ranged | null | undefined)?.range;
  return range === null || range === undefined ? undefined : range[0];
}

/**
 * The offset in the source of what `path` names, or of the deepest part of it that exists
 * (a missing field points at the mapping that should hold it).
 */
export function offsetOf(doc: Document, path: readonly PathSegment[], at: IssueDraft['at']): number {
  const steps = at === 'parent' ? path.slice(0, -1) : path;
  let node: unknown = doc.contents;
  let offset = startOf(node) ?? 0;
  for (let i = 0; i < steps.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    const segment = steps[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (pair === undefined) break;
      const keyOffset = startOf(pair.key) ?? offset;
      if (i === steps.length - 1 && at === 'key') return keyOffset;
      node = pair.value;
      // `field:` with nothing after it has an empty value node; the key is the better place.
      const range = (node as Ranged | null)?.range;
      offset = range === null || range === undefined || range[0] === range[1] ? keyOffset : range[0];
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) break;
      node = item;
      offset = startOf(item) ?? offset;
    } else {
      break;
    }
  }
  return offset;
}

/** Gives a draft its file, line and column. */
export function placeIssue(draft: IssueDraft, file: string, doc: Document, lines: LineCounter): ConfigIssue {
  const { line, col } = lines.linePos(offsetOf(doc, draft.path, draft.at));
  return {
    code: draft.code,
    file,
    line: Math.max(line, 1),
    column: Math.max(col, 1),
    path: formatPath(draft.path),
    value: draft.value,
    message: draft.message,
    allowed: draft.allowed,
    ...(draft.hint === undefined ? {} : { hint: draft.hint }),
  };
}
