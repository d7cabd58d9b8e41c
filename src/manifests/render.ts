import { stringify } from 'yaml';
import { externalIPsParams, externalIPsPolicy, externalIPsPolicyBinding } from './admission.ts';
import { bgpAdvertisementCrd, bgpPeerCrd } from './crds-bgp.ts';
import { l2AdvertisementCrd } from './crds-l2.ts';
import { lbNodeConfigCrd } from './crds-node.ts';
import { lbNodeStatusCrd } from './crds-status.ts';
import { vipPoolCrd } from './crds-pools.ts';
import { resolveManifestOptions, type ManifestOptions } from './options.ts';
import { monitoringObjects } from './monitoring.ts';
import { rbacObjects } from './rbac.ts';
import { agentDaemonSet, controllerDeployment, namespaceObject } from './workloads.ts';

/** Any rendered Kubernetes object: plain data, ready for YAML or JSON. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
}

/**
 * The whole install, in the order `kubectl apply -f` needs: the Namespace, the CRDs (before
 * anything that names their kinds), RBAC, the workloads, the admission params and policy. Options are
 * merged over `defaultManifestOptions` and checked; a bad one throws ManifestsError.
 */
export function renderManifests(given: Partial<ManifestOptions> = {}): KubeObject[] {
  const o = resolveManifestOptions(given);
  return [
    namespaceObject(o),
    vipPoolCrd(),
    bgpPeerCrd(),
    bgpAdvertisementCrd(),
    l2AdvertisementCrd(),
    lbNodeConfigCrd(),
    lbNodeStatusCrd(),
    ...rbacObjects(o),
    controllerDeployment(o),
    agentDaemonSet(o),
    // The params before the binding that names them, so no request ever meets a binding without them.
    ...(o.admissionPolicy ? [externalIPsParams(o), externalIPsPolicy(), externalIPsPolicyBinding(o)] : []),
    ...(o.monitoring ? monitoringObjects(o) : []),
  ];
}

export const MANIFESTS_HEADER =
  '# vipgate install, rendered by `vipgate manifests`. Do not edit: change the flags and render again.\n' +
  '# Needs Kubernetes >= 1.31 (ValidatingAdmissionPolicy v1, CEL isIP()/cidr()).\n';

/**
 * Multi-document YAML with a `---` before each object. Long lines are never folded, so CEL
 * rules stay on one line and the output is stable byte for byte.
 */
export function manifestsToYaml(objects: readonly KubeObject[]): string {
  return MANIFESTS_HEADER + objects.map((obj) => `---\n${stringify(obj, { lineWidth: 0, minContentWidth: 0 })}`).join('');
}
