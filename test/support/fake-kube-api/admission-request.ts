// The `request` and `namespaceObject` CEL variables, shaped like kube-apiserver's: the
// admission.k8s.io/v1 AdmissionRequest as JSON (omitempty fields absent when empty, so
// `request.namespace` on a cluster-scoped request is a "no such key" error there as here), and
// the namespace reduced to the metadata CreateNamespaceObject keeps.
import { randomUUID } from 'node:crypto';
import type { AdmissionAttributes } from './admission-policy.ts';
import { isObject, type Json, type JsonObject } from './json.ts';

const OPTIONS_KIND = { CREATE: 'CreateOptions', UPDATE: 'UpdateOptions', DELETE: 'DeleteOptions' } as const;

export function admissionRequest(attrs: AdmissionAttributes): JsonObject {
  const kind: JsonObject = { group: attrs.group, version: attrs.version, kind: attrs.kind };
  const resource: JsonObject = { group: attrs.group, version: attrs.version, resource: attrs.resource };
  const userInfo: JsonObject = {};
  if (attrs.userInfo.username !== '') userInfo['username'] = attrs.userInfo.username;
  if (attrs.userInfo.groups.length > 0) userInfo['groups'] = [...attrs.userInfo.groups];
  const options: JsonObject = { kind: OPTIONS_KIND[attrs.operation], apiVersion: 'meta.k8s.io/v1' };
  if (attrs.dryRun) options['dryRun'] = ['All'];
  const request: JsonObject = {
    uid: randomUUID(),
    kind,
    resource,
    requestKind: { ...kind },
    requestResource: { ...resource },
    operation: attrs.operation,
    userInfo,
    dryRun: attrs.dryRun,
    options,
  };
  if ((attrs.subresource ?? '') !== '') {
    request['subResource'] = attrs.subresource ?? '';
    request['requestSubResource'] = attrs.subresource ?? '';
  }
  if (attrs.name !== '') request['name'] = attrs.name;
  if ((attrs.namespace ?? '') !== '') request['namespace'] = attrs.namespace ?? '';
  return request;
}

const KEPT_METADATA = ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations'];

/** The Namespace as `namespaceObject` shows it (no managedFields, ownerReferences, finalizers in metadata). */
export function namespaceObject(ns: JsonObject): JsonObject {
  const meta = isObject(ns['metadata']) ? ns['metadata'] : {};
  const kept: JsonObject = {};
  for (const k of KEPT_METADATA) if (meta[k] !== undefined) kept[k] = meta[k];
  const out: JsonObject = { metadata: kept };
  const spec: Json | undefined = ns['spec'];
  const status: Json | undefined = ns['status'];
  out['spec'] = spec ?? {};
  out['status'] = status ?? {};
  return out;
}
