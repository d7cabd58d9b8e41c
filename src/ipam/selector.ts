import { SelectorOperators, type LabelSelector } from '../model/index.ts';

/**
 * Whether `labels` satisfy a Kubernetes label selector: every matchLabels pair and every
 * matchExpressions requirement must hold (AND). An empty selector selects everything, as in
 * Kubernetes; callers decide what an absent one means.
 */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const r of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    const inValues = value !== undefined && (r.values ?? []).includes(value);
    switch (r.operator) {
      case 'In':
        if (!has || !inValues) return false;
        break;
      case 'NotIn':
        // As in Kubernetes: a missing label is "not in" any set.
        if (has && inValues) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/**
 * What is wrong with a selector as the API server would judge it, or undefined when it is valid:
 * In/NotIn need values, Exists/DoesNotExist take none, the operator must be one of the four.
 */
export function selectorProblem(selector: unknown): string | undefined {
  if (typeof selector !== 'object' || selector === null || Array.isArray(selector)) return `must be an object with matchLabels and/or matchExpressions, got ${JSON.stringify(selector)}`;
  const s = selector as Record<string, unknown>;
  for (const key of Object.keys(s)) {
    if (key !== 'matchLabels' && key !== 'matchExpressions') return `has an unknown field ${key}; allowed: matchLabels, matchExpressions`;
  }
  const labels = s['matchLabels'];
  if (labels !== undefined && labels !== null) {
    if (typeof labels !== 'object' || Array.isArray(labels) || Object.values(labels).some((v) => typeof v !== 'string')) {
      return `matchLabels must map label names to strings, got ${JSON.stringify(labels)}`;
    }
  }
  const expressions = s['matchExpressions'];
  if (expressions === undefined || expressions === null) return undefined;
  if (!Array.isArray(expressions)) return `matchExpressions must be a list, got ${JSON.stringify(expressions)}`;
  for (const [i, e] of (expressions as unknown[]).entries()) {
    const where = `matchExpressions[${i}]`;
    if (typeof e !== 'object' || e === null) return `${where} must be an object with key, operator and values`;
    const { key, operator, values } = e as Record<string, unknown>;
    if (typeof key !== 'string' || key === '') return `${where}.key must be a label name`;
    if (typeof operator !== 'string' || !(SelectorOperators as readonly string[]).includes(operator)) {
      return `${where}.operator ${JSON.stringify(operator)} is not one of ${SelectorOperators.join(', ')}`;
    }
    const list = values ?? [];
    if (!Array.isArray(list) || list.some((v) => typeof v !== 'string')) return `${where}.values must be a list of strings`;
    if ((operator === 'In' || operator === 'NotIn') && list.length === 0) return `${where}: operator ${operator} needs at least one value`;
    if ((operator === 'Exists' || operator === 'DoesNotExist') && list.length > 0) return `${where}: operator ${operator} takes no values`;
  }
  return undefined;
}
