// An AdmissionCluster over a plain map of objects, for tests that call admit() without the fake
// API server: put what the cluster holds, mark a kind not served to act out an apiserver that
// cannot resolve a paramKind yet.
import type { AdmissionCluster } from './admission-policy.ts';
import { clone, isObject, str, type JsonObject } from './json.ts';

const key = (apiVersion: string, kind: string, namespace: string, name: string): string => `${apiVersion}|${kind}|${namespace}|${name}`;

export class MemoryAdmissionCluster implements AdmissionCluster {
  readonly #objects = new Map<string, JsonObject>();
  readonly #notServed = new Set<string>();

  /** Stores (or replaces) an object under its apiVersion, kind, namespace and name. */
  put(obj: JsonObject): this {
    const m = isObject(obj['metadata']) ? obj['metadata'] : {};
    this.#objects.set(key(str(obj['apiVersion']) ?? '', str(obj['kind']) ?? '', str(m['namespace']) ?? '', str(m['name']) ?? ''), clone(obj));
    return this;
  }

  remove(apiVersion: string, kind: string, namespace: string, name: string): this {
    this.#objects.delete(key(apiVersion, kind, namespace, name));
    return this;
  }

  /** From now on list() answers 'not-served' for this kind (`serve` undoes it). */
  stopServing(apiVersion: string, kind: string): this {
    this.#notServed.add(`${apiVersion}|${kind}`);
    return this;
  }

  serve(apiVersion: string, kind: string): this {
    this.#notServed.delete(`${apiVersion}|${kind}`);
    return this;
  }

  policies(): readonly JsonObject[] {
    return this.#all('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy');
  }

  bindings(): readonly JsonObject[] {
    return this.#all('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicyBinding');
  }

  list(apiVersion: string, kind: string, namespace?: string): readonly JsonObject[] | 'not-served' {
    if (this.#notServed.has(`${apiVersion}|${kind}`)) return 'not-served';
    const prefix = namespace === undefined ? `${apiVersion}|${kind}|` : `${apiVersion}|${kind}|${namespace}|`;
    return [...this.#objects].filter(([k]) => k.startsWith(prefix)).map(([, o]) => clone(o));
  }

  namespace(name: string): JsonObject | undefined {
    const ns = this.#objects.get(key('v1', 'Namespace', '', name));
    return ns === undefined ? undefined : clone(ns);
  }

  #all(apiVersion: string, kind: string): JsonObject[] {
    const out = this.list(apiVersion, kind);
    return out === 'not-served' ? [] : [...out];
  }
}
