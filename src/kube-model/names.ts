/**
 * The names the rendered objects and the running code agree on: the controller, `migrate` and
 * the agent use them at run time, `manifests/` when it renders. One definition, so a rename
 * can't leave one side behind.
 */
export const API_GROUP = 'vipgate.io';
export const API_VERSION = 'v1alpha1';
export const GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

/** Kinds and their plural resource names (the RBAC and URL spelling). */
export const Kinds = {
  VIPPool: { kind: 'VIPPool', plural: 'vippools', singular: 'vippool', shortNames: ['vpool'] },
  BGPPeer: { kind: 'BGPPeer', plural: 'bgppeers', singular: 'bgppeer', shortNames: [] },
  BGPAdvertisement: { kind: 'BGPAdvertisement', plural: 'bgpadvertisements', singular: 'bgpadvertisement', shortNames: ['bgpadv'] },
  L2Advertisement: { kind: 'L2Advertisement', plural: 'l2advertisements', singular: 'l2advertisement', shortNames: ['l2adv'] },
  LBNodeConfig: { kind: 'LBNodeConfig', plural: 'lbnodeconfigs', singular: 'lbnodeconfig', shortNames: ['lbnc'] },
  LBNodeStatus: { kind: 'LBNodeStatus', plural: 'lbnodestatuses', singular: 'lbnodestatus', shortNames: ['lbns'] },
} as const;
export type KindName = keyof typeof Kinds;

/** The ConfigMap (in vipgate's namespace) the controller keeps in sync and the admission policy reads. */
export const EXTERNAL_IP_PARAMS_NAME = 'vipgate-external-ips';
/** Its key for pools open to every namespace: a leading dot, which no namespace name has. */
export const ALL_NAMESPACES_KEY = '.all-namespaces';
/** The Lease the controller replicas compete for. */
export const CONTROLLER_LEASE_NAME = 'vipgate-controller';
/** Annotation on a Service: requested addresses, comma-separated, at most one per family. */
export const IPS_ANNOTATION = 'vipgate.io/ips';
/** `spec.loadBalancerClass` value that selects vipgate. */
export const LOAD_BALANCER_CLASS = 'vipgate.io/lb';

/** Labels on every rendered object, so `kubectl get all -l app.kubernetes.io/part-of=vipgate` finds them. */
export function commonLabels(component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'vipgate',
    'app.kubernetes.io/part-of': 'vipgate',
    'app.kubernetes.io/component': component,
  };
}

/** The stable subset used in selectors (a Deployment's selector is immutable: keep it small). */
export function selectorLabels(component: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'vipgate', 'app.kubernetes.io/component': component };
}
