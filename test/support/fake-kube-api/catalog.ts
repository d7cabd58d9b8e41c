// Which kinds the server serves: the built-in ones, and one per served version of every stored
// CustomResourceDefinition (group, versions, plural, scope and status subresource from the CRD).
import { isObject, meta, type JsonObject } from './json.ts';
import { daemonSet, deployment } from './kinds/apps.ts';
import {
  clusterRole, clusterRoleBinding, customResourceDefinition, role, roleBinding, validatingAdmissionPolicy, validatingAdmissionPolicyBinding,
} from './kinds/cluster.ts';
import { configMap, endpoints, lease, namespace, node, pod, secret, serviceAccount } from './kinds/core.ts';
import { obj, objs } from './kinds/decode.ts';
import { endpointSlice } from './kinds/discovery.ts';
import { event, eventV1 } from './kinds/events.ts';
import { service } from './kinds/service.ts';
import type { ResourceType } from './resource-type.ts';

export const BUILTIN_TYPES: readonly ResourceType[] = [
  namespace, service, endpoints, endpointSlice, pod, node, lease, event, eventV1, configMap, secret, serviceAccount,
  customResourceDefinition, clusterRole, clusterRoleBinding, role, roleBinding, deployment, daemonSet,
  validatingAdmissionPolicy, validatingAdmissionPolicyBinding,
];

/** The kinds a CRD serves, one per served version. */
export function customTypes(crd: JsonObject): ResourceType[] {
  const spec = obj(crd['spec']) ?? {};
  const names = obj(spec['names']) ?? {};
  const group = typeof spec['group'] === 'string' ? spec['group'] : '';
  const plural = typeof names['plural'] === 'string' ? names['plural'] : '';
  const kind = typeof names['kind'] === 'string' ? names['kind'] : '';
  if (group === '' || plural === '' || kind === '') return [];
  return objs(spec['versions'])
    .filter((v) => v['served'] === true && typeof v['name'] === 'string')
    .map((v) => ({
      group, version: v['name'] as string, plural, kind, namespaced: spec['scope'] === 'Namespaced',
      storage: `${group}/${plural}`, hasStatus: isObject(obj(v['subresources'])?.['status']), hasGeneration: true,
      unconditionalUpdate: false, createOnUpdate: false, deleteReturnsObject: false, crd,
    }));
}

/** Looks kinds up by URL parts; custom kinds follow the stored CRDs. */
export class Catalog {
  #custom: ResourceType[] = [];
  #byPath = new Map<string, ResourceType>();

  constructor() {
    this.#index();
  }

  get all(): readonly ResourceType[] {
    return [...BUILTIN_TYPES, ...this.#custom];
  }

  /** Called with the stored CRDs whenever one changes. */
  setCrds(crds: readonly JsonObject[]): void {
    this.#custom = crds.filter((c) => meta(c)['deletionTimestamp'] === undefined).flatMap(customTypes);
    this.#index();
  }

  find(group: string, version: string, plural: string): ResourceType | undefined {
    return this.#byPath.get(`${group}/${version}/${plural}`);
  }

  /** By plural (and group when plurals repeat, as events do); the preferred (first) version. */
  byPlural(plural: string, group?: string): ResourceType | undefined {
    return this.all.find((t) => t.plural === plural && (group === undefined || t.group === group));
  }

  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.all.find((t) => (t.group === '' ? t.version : `${t.group}/${t.version}`) === apiVersion && t.kind === kind);
  }

  #index(): void {
    this.#byPath = new Map(this.all.map((t) => [`${t.group}/${t.version}/${t.plural}`, t]));
  }
}
