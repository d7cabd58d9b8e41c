// Cluster-level kinds kubectl applies from vipgate's manifests: CRDs, RBAC, admission policies.
import type { JsonObject } from '../json.ts';
import { builtin, type ResourceType } from '../resource-type.ts';
import { obj, objs } from './decode.ts';

export const customResourceDefinition: ResourceType = builtin({
  group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false,
  hasStatus: true, hasGeneration: true, unconditionalUpdate: false, fields: ['spec', 'status'],
  prepare: (o, ctx) => {
    if (ctx.subresource === 'status') return;
    const s = obj(o['spec']) ?? (o['spec'] = {});
    s['conversion'] ??= { strategy: 'None' };
    if (ctx.operation === 'CREATE') {
      const storage = objs(s['versions']).find((v) => v['storage'] === true)?.['name'];
      o['status'] = { conditions: null, acceptedNames: { plural: '', kind: '' }, storedVersions: typeof storage === 'string' ? [storage] : [] };
    }
  },
});

/** The status the establishing controller writes once the names are accepted. */
export function establishedStatus(crd: JsonObject, now: string): JsonObject {
  const names = obj(obj(crd['spec'])?.['names']) ?? {};
  const status = obj(crd['status']) ?? {};
  return {
    ...status,
    acceptedNames: names,
    conditions: [
      { type: 'NamesAccepted', status: 'True', lastTransitionTime: now, reason: 'NoConflicts', message: 'no conflicts found' },
      { type: 'Established', status: 'True', lastTransitionTime: now, reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' },
    ],
  };
}

const rbac = (plural: string, kind: string, namespaced: boolean, fields: string[]): ResourceType =>
  builtin({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, kind, namespaced, fields });

export const clusterRole = rbac('clusterroles', 'ClusterRole', false, ['rules', 'aggregationRule']);
export const clusterRoleBinding = rbac('clusterrolebindings', 'ClusterRoleBinding', false, ['subjects', 'roleRef']);
export const role = rbac('roles', 'Role', true, ['rules']);
export const roleBinding = rbac('rolebindings', 'RoleBinding', true, ['subjects', 'roleRef']);

export const validatingAdmissionPolicy: ResourceType = builtin({
  group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicies', kind: 'ValidatingAdmissionPolicy', namespaced: false,
  hasStatus: true, hasGeneration: true, fields: ['spec', 'status'],
  prepare: (o, ctx) => {
    if (ctx.subresource === 'status') return;
    const s = obj(o['spec']) ?? (o['spec'] = {});
    s['failurePolicy'] ??= 'Fail';
    const mc = obj(s['matchConstraints']);
    if (mc !== undefined) {
      mc['namespaceSelector'] ??= {};
      mc['objectSelector'] ??= {};
      mc['matchPolicy'] ??= 'Equivalent';
      for (const rule of objs(mc['resourceRules'])) rule['scope'] ??= '*';
    }
    if (ctx.operation === 'CREATE') o['status'] = {};
  },
});

export const validatingAdmissionPolicyBinding: ResourceType = builtin({
  group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicybindings', kind: 'ValidatingAdmissionPolicyBinding', namespaced: false,
  hasGeneration: true, fields: ['spec'],
});
