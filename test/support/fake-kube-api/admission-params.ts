// The params of a policy binding, as kube-apiserver 1.32's generic.CollectParams finds them, and
// the policy-level error when the paramKind is not served (a CRD the admission RESTMapper does
// not know yet, as right after an apiserver restart).
import type { AdmissionAttributes, AdmissionCluster } from './admission-policy.ts';
import { isObject, str, type JsonObject } from './json.ts';
import { parseLabelSelector, selects } from './label-selector.ts';

export interface ParamKind {
  readonly apiVersion: string;
  readonly kind: string;
}

export type ParamsResult = { readonly params: readonly (JsonObject | null)[] } | { readonly error: string };

export function paramKindOf(policySpec: JsonObject): ParamKind | undefined {
  const pk = policySpec['paramKind'];
  if (!isObject(pk)) return undefined;
  return { apiVersion: str(pk['apiVersion']) ?? '', kind: str(pk['kind']) ?? '' };
}

function groupVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** The configuration error a policy carries while its paramKind cannot be resolved; undefined when it can. */
export function paramKindError(kind: ParamKind | undefined, cluster: AdmissionCluster): string | undefined {
  if (kind === undefined || cluster.list(kind.apiVersion, kind.kind) !== 'not-served') return undefined;
  const { group, version } = groupVersion(kind.apiVersion);
  // schema.GroupVersionKind's String(): "group/version, Kind=Kind" ("/v1, Kind=ConfigMap" for core).
  return `failed to find resource referenced by paramKind: '${group}/${version}, Kind=${kind.kind}'`;
}

// Built-in kinds a paramKind is likely to name; custom resources get their scope from their CRD.
const CLUSTER_SCOPED_CORE = new Set(['Namespace', 'Node', 'PersistentVolume', 'ComponentStatus']);

/**
 * Whether the param kind is namespaced. The cluster interface does not say, so: core kinds by
 * name, custom resources by their stored CRD, anything else by whether its objects carry a
 * namespace (no objects: cluster-scoped, where a lookup finds nothing either way).
 */
function isNamespaced(kind: ParamKind, cluster: AdmissionCluster): boolean {
  const { group } = groupVersion(kind.apiVersion);
  if (group === '') return !CLUSTER_SCOPED_CORE.has(kind.kind);
  const crds = cluster.list('apiextensions.k8s.io/v1', 'CustomResourceDefinition');
  if (crds !== 'not-served') {
    for (const crd of crds) {
      const spec = crd['spec'];
      if (!isObject(spec) || spec['group'] !== group || !isObject(spec['names']) || spec['names']['kind'] !== kind.kind) continue;
      return spec['scope'] === 'Namespaced';
    }
  }
  const objects = cluster.list(kind.apiVersion, kind.kind);
  return objects !== 'not-served' && objects.some((o) => isObject(o['metadata']) && typeof o['metadata']['namespace'] === 'string');
}

const nameOf = (o: JsonObject): string | undefined => (isObject(o['metadata']) ? str(o['metadata']['name']) : undefined);

/** Params for one binding: `[null]` when the policy or binding uses none, `[]` when none were found and the action is Allow. */
export function collectParams(kind: ParamKind | undefined, bindingSpec: JsonObject, attrs: AdmissionAttributes, cluster: AdmissionCluster): ParamsResult {
  const ref = bindingSpec['paramRef'];
  if (kind === undefined || !isObject(ref)) return { params: [null] };
  const namespaced = isNamespaced(kind, cluster);
  const refNamespace = str(ref['namespace']) ?? '';
  let namespace: string | undefined;
  if (namespaced) {
    namespace = refNamespace !== '' ? refNamespace : (attrs.namespace ?? '');
    if (namespace === '') return { error: 'cannot use namespaced paramRef in policy binding that matches cluster-scoped resources' };
  } else if (refNamespace !== '') {
    return { error: 'paramRef.namespace must not be provided for a cluster-scoped `paramKind`' };
  }
  const listed = cluster.list(kind.apiVersion, kind.kind, namespace);
  const objects = listed === 'not-served' ? [] : listed.filter((o) => !namespaced || (isObject(o['metadata']) && o['metadata']['namespace'] === namespace));
  const name = str(ref['name']) ?? '';
  let params: JsonObject[];
  if (name !== '') {
    if (ref['selector'] !== undefined && ref['selector'] !== null) return { error: 'paramRef.name and paramRef.selector are mutually exclusive' };
    params = objects.filter((o) => nameOf(o) === name).slice(0, 1);
  } else if (isObject(ref['selector'])) {
    const selector = parseLabelSelector(ref['selector']);
    if ('error' in selector) return { error: selector.error };
    params = objects.filter((o) => selects(selector.requirements, o));
  } else {
    return { error: 'one of name or selector must be provided' };
  }
  if (params.length === 0 && ref['parameterNotFoundAction'] === 'Deny') {
    return { error: 'no params found for policy binding with `Deny` parameterNotFoundAction' };
  }
  // Native params reach CEL with their TypeMeta filled in (the dispatcher's wrappedParam).
  return { params: params.map((p) => ({ ...p, apiVersion: str(p['apiVersion']) ?? kind.apiVersion, kind: str(p['kind']) ?? kind.kind })) };
}
