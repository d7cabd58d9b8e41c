/**
 * Least privilege: the agent reads, and writes only Events and its node's LBNodeStatus (what it
 * reads back from the kernel and its peers); the controller is the only writer of Service and
 * VIPPool status, and otherwise writes Events, its Lease and the admission policy's params ConfigMap.
 */
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IPolicyRule } from 'kubernetes-models/rbac.authorization.k8s.io/v1/PolicyRule';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { API_GROUP, commonLabels, CONTROLLER_LEASE_NAME, EXTERNAL_IP_PARAMS_NAME, Kinds } from '../kube-model/names.ts';
import type { ManifestOptions } from './options.ts';

export const AGENT = 'vipgate-agent';
export const CONTROLLER = 'vipgate-controller';

const read = ['get', 'list', 'watch'];

const agentRules: IPolicyRule[] = [
  { apiGroups: [''], resources: ['services', 'nodes'], verbs: read },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: read },
  {
    apiGroups: [API_GROUP],
    resources: [Kinds.VIPPool.plural, Kinds.BGPPeer.plural, Kinds.BGPAdvertisement.plural, Kinds.L2Advertisement.plural, Kinds.LBNodeConfig.plural],
    verbs: read,
  },
  // L2 mode says on the Service when a node takes its VIP over, or sees it claimed twice.
  { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  // Its node's read-back (docs/design/019). RBAC can't limit this to the object named after the
  // agent's own node (one account for the whole DaemonSet): any agent could write any node's.
  { apiGroups: [API_GROUP], resources: [Kinds.LBNodeStatus.plural], verbs: ['create'] },
  { apiGroups: [API_GROUP], resources: [`${Kinds.LBNodeStatus.plural}/status`], verbs: ['patch'] },
];

const controllerRules: IPolicyRule[] = [
  { apiGroups: [''], resources: ['services'], verbs: read },
  // Only the status subresource: the controller never rewrites a user's spec.
  { apiGroups: [''], resources: ['services/status'], verbs: ['update', 'patch'] },
  // Events through events.k8s.io/v1 and the core group, which older client paths still use.
  { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  { apiGroups: [API_GROUP], resources: [Kinds.VIPPool.plural], verbs: read },
  { apiGroups: [API_GROUP], resources: [`${Kinds.VIPPool.plural}/status`], verbs: ['update', 'patch'] },
  // The LB nodes' read-backs, which the Served and Announced conditions are made from.
  { apiGroups: [API_GROUP], resources: [Kinds.LBNodeStatus.plural], verbs: read },
];

function serviceAccount(name: string, o: ManifestOptions): IServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: o.namespace, labels: commonLabels(name.replace('vipgate-', '')) } };
}

function clusterRole(name: string, rules: IPolicyRule[]): IClusterRole {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, labels: commonLabels(name.replace('vipgate-', '')) }, rules };
}

function clusterRoleBinding(name: string, o: ManifestOptions): IClusterRoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: commonLabels(name.replace('vipgate-', '')) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace: o.namespace }],
  };
}

function role(name: string, o: ManifestOptions, rules: IPolicyRule[]): IRole {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace: o.namespace, labels: commonLabels(name.replace('vipgate-', '')) }, rules };
}

function roleBinding(name: string, account: string, o: ManifestOptions): IRoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name, namespace: o.namespace, labels: commonLabels(account.replace('vipgate-', '')) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name: account, namespace: o.namespace }],
  };
}

export function rbacObjects(o: ManifestOptions): (IServiceAccount | IClusterRole | IClusterRoleBinding | IRole | IRoleBinding)[] {
  return [
    serviceAccount(CONTROLLER, o),
    clusterRole(CONTROLLER, controllerRules),
    clusterRoleBinding(CONTROLLER, o),
    role(CONTROLLER, o, [
      // Leader election: create the Lease once, then touch only that one by name.
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [CONTROLLER_LEASE_NAME], verbs: ['get', 'update', 'patch'] },
      // The admission params: shipped, kept by name; created again only if someone deleted it
      // (RBAC can't limit `create` by name, and this Role is only vipgate's own namespace).
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: [EXTERNAL_IP_PARAMS_NAME], verbs: ['get', 'update', 'patch'] },
    ]),
    roleBinding(CONTROLLER, CONTROLLER, o),
    serviceAccount(AGENT, o),
    clusterRole(AGENT, agentRules),
    clusterRoleBinding(AGENT, o),
    // BGP passwords: Secrets in vipgate's own namespace only, never cluster-wide.
    role(`${AGENT}-bgp-secrets`, o, [{ apiGroups: [''], resources: ['secrets'], verbs: read }]),
    roleBinding(`${AGENT}-bgp-secrets`, AGENT, o),
  ];
}
