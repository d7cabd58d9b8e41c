/**
 * The ValidatingAdmissionPolicy that refuses `spec.externalIPs` no VIPPool allows
 * (CVE-2020-8554), evaluated by the API server in CEL: no webhook server to run or secure.
 *
 * Its parameters are a ConfigMap the install ships (with no data: nothing allowed) and the
 * controller fills from the VIPPools. Why a ConfigMap and not a vipgate CRD, and why
 * `parameterNotFoundAction: Allow` — each is a harm a real kube-apiserver v1.32 showed
 * (../shared/kube-conformance/admission.json, docs/design/010-admission-params.md):
 * - the server looks the params up *before* `matchConditions`, so with `Deny` a missing params
 *   object refused every Service write in the cluster, even ones without externalIPs;
 * - after an apiserver restart a CRD params kind can be "not found" for ~30 s, refusing every
 *   Service write again. A ConfigMap is a core type: always served.
 * With the ConfigMap shipped in the same apply, "missing" means someone deleted it (or a
 * half-done uninstall): then Services without externalIPs are still never touched, and the
 * controller and the agents still refuse to serve an address no pool allows (an Event says so).
 * Fail closed for externalIPs, never for anything else.
 *
 * Data: one key per namespace (and `.all-namespaces`, which no namespace can be named), each a
 * space-separated list of `pool=cidr,cidr` (ranges split into CIDRs: CEL can test
 * `cidr(c).containsIP(ip)` but can't order addresses). The manifests carry no `data` at all,
 * so re-applying them never resets what the controller wrote.
 *
 * Only addresses a request *adds* are checked: an UPDATE that leaves existing externalIPs alone
 * (a label change, say) passes even if a pool changed since. Another Service already holding
 * the address is not visible to CEL either; the controller and the agent refuse that.
 */
import type { IValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import type { IValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { ALL_NAMESPACES_KEY, commonLabels, EXTERNAL_IP_PARAMS_NAME } from '../kube-model/names.ts';
import type { ManifestOptions } from './options.ts';

export const EXTERNAL_IPS_POLICY = 'vipgate-external-ips';

/** The CEL, exported so tests can evaluate exactly what ships. */
export const externalIPsCel = {
  matchCondition: 'has(object.spec.externalIPs) && size(object.spec.externalIPs) > 0',
  newIPs:
    'object.spec.externalIPs.filter(addr, oldObject == null || !has(oldObject.spec.externalIPs) || !(addr in oldObject.spec.externalIPs))',
  // `pool=cidr,cidr` entries for this namespace, then those for every namespace.
  allowedPools:
    `!has(params.data) ? [] : (` +
    `(request.namespace in params.data ? params.data[request.namespace].split(' ') : []) + ` +
    `('${ALL_NAMESPACES_KEY}' in params.data ? params.data['${ALL_NAMESPACES_KEY}'].split(' ') : [])` +
    `).filter(p, p.contains('='))`,
  // A malformed CIDR (the ConfigMap edited by hand) matches nothing rather than failing the request.
  refused:
    "variables.newIPs.filter(addr, !isIP(addr) || !variables.allowedPools.exists(p, p.split('=')[1].split(',').exists(c, isCIDR(c) && cidr(c).containsIP(addr))))",
  validation: 'size(variables.refused) == 0',
  message:
    "'spec.externalIPs: ' + variables.refused.join(', ') + ' not allowed in namespace ' + request.namespace + '; ' + " +
    "(size(variables.allowedPools) == 0 ? 'no VIPPool allows externalIPs here' : " +
    "'VIPPools allowing externalIPs here: ' + variables.allowedPools.map(p, p.split('=')[0] + ' (' + p.split('=')[1].split(',').join(', ') + ')').join(', ')) + " +
    "'. Or use type: LoadBalancer (see vipgate migrate external-ips).'",
} as const;

export function externalIPsPolicy(): IValidatingAdmissionPolicy {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: EXTERNAL_IPS_POLICY, labels: commonLabels('admission') },
    spec: {
      failurePolicy: 'Fail',
      paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['services'] }],
      },
      matchConditions: [{ name: 'has-external-ips', expression: externalIPsCel.matchCondition }],
      variables: [
        { name: 'newIPs', expression: externalIPsCel.newIPs },
        { name: 'allowedPools', expression: externalIPsCel.allowedPools },
        { name: 'refused', expression: externalIPsCel.refused },
      ],
      validations: [
        {
          expression: externalIPsCel.validation,
          messageExpression: externalIPsCel.message,
          message: 'spec.externalIPs names addresses that no VIPPool allows for this namespace',
          reason: 'Forbidden',
        },
      ],
    },
  };
}

export function externalIPsPolicyBinding(o: Pick<ManifestOptions, 'namespace'>): IValidatingAdmissionPolicyBinding {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: EXTERNAL_IPS_POLICY, labels: commonLabels('admission') },
    spec: {
      policyName: EXTERNAL_IPS_POLICY,
      // Allow: a missing params object must never refuse Services (see above); the shipped one
      // without data refuses every externalIP until the controller writes the pools.
      paramRef: { name: EXTERNAL_IP_PARAMS_NAME, namespace: o.namespace, parameterNotFoundAction: 'Allow' },
      validationActions: ['Deny'],
    },
  };
}

/** The params object as shipped: no data, so no externalIP is admitted before the controller runs. */
export function externalIPsParams(o: Pick<ManifestOptions, 'namespace'>): IConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: EXTERNAL_IP_PARAMS_NAME,
      namespace: o.namespace,
      labels: commonLabels('admission'),
      annotations: { 'vipgate.io/description': 'Written by the vipgate controller from the VIPPools: which namespaces may use which addresses in spec.externalIPs. Do not edit.' },
    },
  };
}
