// Reading one vipgate.io custom object's spec, field by field: a bad field throws FieldError,
// which the caller turns into that object's problem (the object is left out, the others apply).
import { selectorMatches, selectorProblem } from '../ipam/index.ts';
import type { KubeCustomObject } from '../kube/index.ts';

/** Thrown inside one object's reading; becomes that object's problem. */
export class FieldError extends Error {}

export type Spec = Readonly<Record<string, unknown>>;

/** An integer field in [min, max], or undefined when absent; `at` is where `spec` sits (for the message). */
export function int(spec: Spec, field: string, min: number, max: number, allowed = `an integer ${min}–${max}`, at = 'spec'): number | undefined {
  const v = spec[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new FieldError(`${at}.${field} is ${JSON.stringify(v)}; allowed: ${allowed}`);
  return v;
}

/** A list of strings (each matching `pattern` when given); absent: empty. */
export function strings(spec: Spec, field: string, pattern?: RegExp, allowed = 'a list of strings'): string[] {
  const v = spec[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s): s is string => typeof s === 'string' && (pattern === undefined || pattern.test(s)))) throw new FieldError(`spec.${field} is ${JSON.stringify(v)}; allowed: ${allowed}`);
  return v;
}

/** A nested object field, or undefined when absent. */
export function sub(spec: Spec, field: string): Spec | undefined {
  const v = spec[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new FieldError(`spec.${field} must be an object`);
  return v as Spec;
}

/** Refuses a field the kind does not have (a typo would otherwise be silently ignored). */
export function checkFields(spec: Spec, allowed: readonly string[], kind: string, at = 'spec'): void {
  const unknown = Object.keys(spec).find((k) => !allowed.includes(k));
  // "an L2Advertisement", "a BGPPeer": the article follows the sound of the first letter.
  const article = /^[AEFHILMNORSX]/.test(kind) ? 'an' : 'a';
  if (unknown !== undefined) throw new FieldError(`${at}.${unknown} is not ${article} ${kind} field; allowed: ${allowed.join(', ')}`);
}

/** Whether the object applies to a node with these labels, by its spec.nodeSelector (absent: every node). */
export function selects(spec: Spec, labels: Readonly<Record<string, string>>): boolean {
  const selector = spec['nodeSelector'];
  if (selector === undefined || selector === null) return true;
  const problem = selectorProblem(selector);
  if (problem !== undefined) throw new FieldError(`spec.nodeSelector ${problem}`);
  return selectorMatches(selector, labels);
}

/** Objects in name order, so "the first" is the same on every node. */
export function byName(a: KubeCustomObject, b: KubeCustomObject): number {
  const x = a.metadata?.name ?? '';
  const y = b.metadata?.name ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The objects whose nodeSelector matches `labels`, each read by `read`, in name order. One that
 * can't be read is left out with a problem naming it (`BGPPeer core1: …; this peer is left out`).
 */
export function readSelected<T>(
  objects: readonly KubeCustomObject[],
  what: { readonly kind: string; readonly noun: string },
  labels: Readonly<Record<string, string>>,
  read: (name: string, spec: Spec) => T,
  problems: { object: string; message: string }[],
): T[] {
  const out: T[] = [];
  for (const obj of [...objects].sort(byName)) {
    const name = obj.metadata?.name ?? '';
    try {
      const spec = obj.spec ?? {};
      if (selects(spec, labels)) out.push(read(name, spec));
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      problems.push({ object: `${what.kind} ${name}`, message: `${error.message}; this ${what.noun} is left out` });
    }
  }
  return out;
}
