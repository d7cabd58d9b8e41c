// The CEL environment the fake API server's admission evaluates policies in: the Kubernetes
// library functions of src/manifests/cel.test-support.ts (IP, CIDR) plus the few more added here,
// with Kubernetes' language settings (k8s.io/apiserver/pkg/cel/environment/base.go for 1.32):
// homogeneous aggregate literals, optional types, and only the declared variables.
//
// Not here (an expression using them fails to compile, which the policy's failurePolicy then
// decides): authorizer, quantity, url, semver, format, sets, two-variable comprehensions.
import type { Environment } from '@marcbachmann/cel-js';
import { kubernetesCel } from '../../../src/manifests/cel.test-support.ts';
import { isObject, type Json } from './json.ts';

/** The variables a ValidatingAdmissionPolicy expression may use. */
export const ADMISSION_VARIABLES = ['object', 'oldObject', 'params', 'request', 'namespaceObject', 'variables'] as const;

export function admissionCel(): Environment {
  const env = kubernetesCel({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: true, enableOptionalTypes: true });
  // object, oldObject and params are dyn in kube-apiserver's compiler too (their schema is only
  // used by the status type-checking controller, for warnings). `request` is typed there, which
  // matters for literals: ['x', request.namespace] is a list of strings, not a string/dyn mix
  // (refused since 1.29 by the homogeneous-literal validator).
  for (const name of ADMISSION_VARIABLES) {
    if (name === 'request') env.registerVariable({ name, schema: REQUEST_SCHEMA });
    else env.registerVariable(name, 'dyn');
  }
  return registerKubernetesExtras(env);
}

// admission.k8s.io/v1 AdmissionRequest as CEL declares it (absent omitempty fields: "no such key").
const GVK = { group: 'string', version: 'string', kind: 'string' };
const GVR = { group: 'string', version: 'string', resource: 'string' };
const REQUEST_SCHEMA = {
  uid: 'string',
  kind: GVK,
  resource: GVR,
  subResource: 'string',
  requestKind: GVK,
  requestResource: GVR,
  requestSubResource: 'string',
  name: 'string',
  namespace: 'string',
  operation: 'string',
  userInfo: { username: 'string', uid: 'string', groups: 'list<string>', extra: 'map<string, list<string>>' },
  dryRun: 'bool',
  options: 'dyn',
};

/** Functions of the Kubernetes CEL libraries that cel-js lacks (strings ext and the lists library). */
function registerKubernetesExtras(env: Environment): Environment {
  return env
    .registerFunction('string.charAt(int): string', (s: string, i: bigint) => {
      // Go indexes runes, i.e. code points.
      const runes = Array.from(s);
      if (i < 0n || i > BigInt(runes.length)) throw new Error(`index out of range: ${i}`);
      return runes[Number(i)] ?? '';
    })
    .registerFunction('string.replace(string, string): string', (s: string, from: string, to: string) => s.split(from).join(to))
    .registerFunction('string.replace(string, string, int): string', (s: string, from: string, to: string, n: bigint) => replaceN(s, from, to, n))
    .registerFunction('list<int>.sum(): int', (l: readonly bigint[]) => l.reduce((a, b) => a + b, 0n))
    .registerFunction('list<int>.min(): int', (l: readonly bigint[]) => extreme(l, (a, b) => a < b))
    .registerFunction('list<int>.max(): int', (l: readonly bigint[]) => extreme(l, (a, b) => a > b))
    .registerFunction('list<int>.isSorted(): bool', (l: readonly bigint[]) => l.every((v, i) => i === 0 || l[i - 1]! <= v))
    .registerFunction('list<string>.isSorted(): bool', (l: readonly string[]) => l.every((v, i) => i === 0 || l[i - 1]! <= v))
    .registerFunction('string.find(string): string', (s: string, re: string) => new RegExp(re, 'u').exec(s)?.[0] ?? '')
    .registerFunction('string.findAll(string): list<string>', (s: string, re: string) => [...s.matchAll(new RegExp(re, 'gu'))].map((m) => m[0]));
}

function replaceN(s: string, from: string, to: string, n: bigint): string {
  if (n < 0n) return s.split(from).join(to);
  let out = s;
  let at = 0;
  for (let i = 0n; i < n; i++) {
    const found = out.indexOf(from, at);
    if (found < 0) break;
    out = out.slice(0, found) + to + out.slice(found + from.length);
    at = found + to.length;
  }
  return out;
}

function extreme<T>(l: readonly T[], better: (a: T, b: T) => boolean): T {
  if (l.length === 0) throw new Error('min/max of an empty list');
  return l.reduce((best, v) => (better(v, best) ? v : best));
}

/** A CEL value for cel-js. */
export type CelValue = null | boolean | bigint | number | string | CelValue[] | { [key: string]: CelValue };

/**
 * A JSON value as CEL sees an unstructured object: integral numbers are int (BigInt for
 * cel-js), other numbers double, like encoding/json into int64/float64 in kube-apiserver.
 */
export function toCel(value: Json): CelValue {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toCel);
  if (isObject(value)) {
    const out: { [key: string]: CelValue } = {};
    for (const [k, v] of Object.entries(value)) if (k !== '__proto__') out[k] = toCel(v);
    return out;
  }
  return value;
}
