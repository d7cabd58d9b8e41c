/**
 * The ValidatingAdmissionPolicy that refuses `spec.externalIPs` no VIPPool allows
 * (CVE-2020-8554), evaluated by the API server in CEL: no webhook server to run or secure.
 *
 * Why a generated params object (ExternalIPPolicy) and not `paramKind: VIPPool`: with a param
 * selector the API server evaluates the policy once per matching param and the request must
 * pass *all* of them — "covered by some pool" can't be said that way, and CEL can't list
 * objects itself. So the controller flattens the pools that allow externalIPs into one object
 * (ranges split into CIDRs, since CEL can test `cidr().containsIP()` but can't order
 * addresses), and the policy binds to that one object by name.
 *
 * Only addresses a request *adds* are checked: an UPDATE that leaves existing externalIPs alone
 * (a label change, say) passes even if a pool changed since. The controller and the agent
 * still refuse to serve them, so this is the front gate, not the only one. Another Service
 * already holding the address is not visible to CEL either; the controller refuses that.
 */
import type { IValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import type { IValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import { commonLabels } from './labels.ts';
import { EXTERNAL_IP_POLICY_NAME, GROUP_VERSION, Kinds } from './names.ts';

export const EXTERNAL_IPS_POLICY = 'vipgate-external-ips';

/** The CEL, exported so tests can evaluate exactly what ships. */
export const externalIPsCel = {
  matchCondition: 'has(object.spec.externalIPs) && size(object.spec.externalIPs) > 0',
  newIPs:
    'object.spec.externalIPs.filter(addr, oldObject == null || !has(oldObject.spec.externalIPs) || !(addr in oldObject.spec.externalIPs))',
  allowedPools:
    '(has(params.spec.pools) ? params.spec.pools : []).filter(p, !has(p.namespaces) || size(p.namespaces) == 0 || request.namespace in p.namespaces)',
  refused: 'variables.newIPs.filter(addr, !isIP(addr) || !variables.allowedPools.exists(p, p.cidrs.exists(c, cidr(c).containsIP(addr))))',
  validation: 'size(variables.refused) == 0',
  message:
    "'spec.externalIPs: ' + variables.refused.join(', ') + ' not allowed in namespace ' + request.namespace + '; ' + " +
    "(size(variables.allowedPools) == 0 ? 'no VIPPool allows externalIPs here' : " +
    "'VIPPools allowing externalIPs here: ' + variables.allowedPools.map(p, p.name + ' (' + p.cidrs.join(', ') + ')').join(', ')) + " +
    "'. Or use type: LoadBalancer (see vipgate migrate external-ips).'",
} as const;

export function externalIPsPolicy(): IValidatingAdmissionPolicy {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: EXTERNAL_IPS_POLICY, labels: commonLabels('admission') },
    spec: {
      failurePolicy: 'Fail',
      paramKind: { apiVersion: GROUP_VERSION, kind: Kinds.ExternalIPPolicy.kind },
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['services'] }],
      },
      // Services without externalIPs never reach the rule, so they don't depend on the params existing.
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

export function externalIPsPolicyBinding(): IValidatingAdmissionPolicyBinding {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: EXTERNAL_IPS_POLICY, labels: commonLabels('admission') },
    spec: {
      policyName: EXTERNAL_IPS_POLICY,
      // Until the controller has written the params, externalIPs are refused: fail closed.
      paramRef: { name: EXTERNAL_IP_POLICY_NAME, parameterNotFoundAction: 'Deny' },
      validationActions: ['Deny'],
    },
  };
}
