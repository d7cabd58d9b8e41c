// metav1.LabelSelector objects ({matchLabels, matchExpressions}) as admission policies, their
// bindings and paramRef.selector carry them, turned into the requirements selector.ts matches.
import { isObject, type Json } from './json.ts';
import { matches, type Requirement } from './selector.ts';

export type LabelSelectorResult = { readonly requirements: readonly Requirement[] } | { readonly error: string };

const OPERATORS: Readonly<Record<string, Requirement['op']>> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!' };

/** Absent or `{}` selects everything (an empty requirement list), as LabelSelectorAsSelector does. */
export function parseLabelSelector(selector: Json | undefined): LabelSelectorResult {
  if (selector === undefined || selector === null) return { requirements: [] };
  if (!isObject(selector)) return { error: 'a label selector must be an object' };
  const out: Requirement[] = [];
  const labels = selector['matchLabels'];
  if (isObject(labels)) {
    for (const [key, value] of Object.entries(labels)) {
      if (typeof value !== 'string') return { error: `matchLabels: ${key}: the value must be a string` };
      out.push({ key, op: 'in', values: [value] });
    }
  }
  const expressions = selector['matchExpressions'];
  for (const e of Array.isArray(expressions) ? expressions : []) {
    if (!isObject(e) || typeof e['key'] !== 'string' || typeof e['operator'] !== 'string') return { error: 'a matchExpressions entry needs key and operator' };
    const op = OPERATORS[e['operator']];
    if (op === undefined) return { error: `"${e['operator']}" is not a valid label selector operator` };
    const values = Array.isArray(e['values']) ? e['values'].filter((v): v is string => typeof v === 'string') : [];
    if (op === 'in' || op === 'notin') {
      if (values.length === 0) return { error: `values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty` };
      out.push({ key: e['key'], op, values });
    } else {
      if (values.length > 0) return { error: `values: Invalid value: ${JSON.stringify(values)}: values set must be empty for exists and does not exist` };
      out.push({ key: e['key'], op });
    }
  }
  return { requirements: out };
}

/** An object's metadata.labels as strings (a missing or malformed map is no labels). */
export function labelsOf(obj: Json | null | undefined): Record<string, string> {
  if (!isObject(obj) || !isObject(obj['metadata'])) return {};
  const labels = obj['metadata']['labels'];
  if (!isObject(labels)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (typeof v === 'string') out[k] = v;
  return out;
}

export function selects(requirements: readonly Requirement[], obj: Json | null | undefined): boolean {
  return matches(requirements, labelsOf(obj));
}
