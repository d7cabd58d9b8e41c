// ValidatingAdmissionPolicy for the fake API server, as kube-apiserver v1.32 applies it
// (k8s.io/apiserver/pkg/admission/plugin/policy/validating/dispatcher.go): pure, called for
// every write with the stored policies, bindings, params and namespaces.
//
// Order, per policy that has bindings (policies and bindings taken in name order):
//   matchConstraints (an error there drops the policy, as 1.32 does) → paramKind served? (no:
//   "failed to configure policy", no binding named) → per binding: matchResources → params
//   (parameterNotFoundAction Deny fails here, before matchConditions) → per param:
//   matchConditions → validations → auditAnnotations.
// Configuration errors obey failurePolicy; validation failures obey validationActions (Deny:
// refuse, Warn: a warning, Audit: nothing, the fake keeps no audit log). The first denial makes
// the answer: admission.NewForbidden's Status with the decision's reason and code.
//
// Not implemented: the `authorizer` variable (an expression using it does not compile), the CEL
// cost budget, matchPolicy Equivalent across resource versions, CONNECT.
import { evaluatePolicy } from './admission-cel.ts';
import { matchResources } from './admission-match.ts';
import { collectParams, paramKindError, paramKindOf } from './admission-params.ts';
import { admissionRequest, namespaceObject } from './admission-request.ts';
import { isObject, str, type JsonObject } from './json.ts';

export interface AdmissionAttributes {
  readonly operation: 'CREATE' | 'UPDATE' | 'DELETE';
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly kind: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name: string;
  readonly object: JsonObject | null;
  readonly oldObject: JsonObject | null;
  readonly userInfo: { readonly username: string; readonly groups: readonly string[] };
  readonly dryRun: boolean;
}

export interface AdmissionCluster {
  /** Stored ValidatingAdmissionPolicies and their bindings (admissionregistration.k8s.io/v1). */
  policies(): readonly JsonObject[];
  bindings(): readonly JsonObject[];
  /** Objects of a kind, for params (paramKind apiVersion+kind; namespace undefined: cluster-scoped or all). */
  list(apiVersion: string, kind: string, namespace?: string): readonly JsonObject[] | 'not-served';
  /** The Namespace object, for namespaceObject. */
  namespace(name: string): JsonObject | undefined;
}

export type AdmissionVerdict = { readonly allowed: true; readonly warnings: readonly string[] } | { readonly allowed: false; readonly code: number; readonly status: JsonObject };

interface Denial {
  readonly policy: string;
  readonly binding: string | undefined;
  readonly message: string;
  readonly reason: string | undefined;
}

const nameOf = (o: JsonObject): string => (isObject(o['metadata']) ? (str(o['metadata']['name']) ?? '') : '');
const specOf = (o: JsonObject): JsonObject => (isObject(o['spec']) ? o['spec'] : {});
const byName = (a: JsonObject, b: JsonObject): number => (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0);

// Policies never apply to the admission configuration itself (rules.IsExemptAdmissionConfigurationResource).
const EXEMPT_KINDS = new Set(['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding']);

export function admit(attrs: AdmissionAttributes, cluster: AdmissionCluster): AdmissionVerdict {
  if (attrs.group === 'admissionregistration.k8s.io' && EXEMPT_KINDS.has(attrs.kind)) return { allowed: true, warnings: [] };
  const denials: Denial[] = [];
  const warnings: string[] = [];
  const bindings = [...cluster.bindings()].sort(byName);
  for (const policy of [...cluster.policies()].sort(byName)) {
    const policyName = nameOf(policy);
    const own = bindings.filter((b) => specOf(b)['policyName'] === policyName);
    if (own.length === 0) continue;
    const spec = specOf(policy);
    const configError = (message: string, binding: string | undefined): void => {
      const failurePolicy = str(spec['failurePolicy']) ?? 'Fail';
      if (failurePolicy === 'Ignore') return;
      const text = failurePolicy === 'Fail' ? `failed to configure ${binding === undefined ? 'policy' : 'binding'}: ${message}` : `unrecognized failure policy: '${failurePolicy}'`;
      denials.push({ policy: policyName, binding, message: text, reason: undefined });
    };

    const constraints = spec['matchConstraints'];
    const matched = isObject(constraints) ? matchResources(constraints, attrs, cluster) : { error: 'policy contained no match constraints, a required field' };
    if (!('matches' in matched) || !matched.matches) continue;
    const kind = paramKindOf(spec);
    const kindError = paramKindError(kind, cluster);
    if (kindError !== undefined) {
      configError(kindError, undefined);
      continue;
    }

    for (const binding of own) {
      const bindingName = nameOf(binding);
      const bindingSpec = specOf(binding);
      const resources = bindingSpec['matchResources'];
      if (isObject(resources)) {
        const m = matchResources(resources, attrs, cluster);
        if ('error' in m) {
          configError(m.error, bindingName);
          continue;
        }
        if (!m.matches) continue;
      }
      const params = collectParams(kind, bindingSpec, attrs, cluster);
      if ('error' in params) {
        configError(params.error, bindingName);
        continue;
      }
      if (params.params.length === 0) continue;

      // The namespace of the request (none for cluster-scoped objects and for a Namespace itself).
      let ns: JsonObject | null = null;
      const nsName = attrs.group === '' && attrs.version === 'v1' && attrs.kind === 'Namespace' ? '' : (attrs.namespace ?? '');
      if (nsName !== '') {
        const found = cluster.namespace(nsName);
        if (found === undefined) return notFoundNamespace(nsName);
        ns = namespaceObject(found);
      }
      const actions = Array.isArray(bindingSpec['validationActions']) ? bindingSpec['validationActions'] : [];
      for (const param of params.params) {
        const result = evaluatePolicy(spec, { object: attrs.object, oldObject: attrs.oldObject, params: param, request: admissionRequest(attrs), namespaceObject: ns });
        for (const decision of result.decisions) {
          if (decision.action !== 'deny') continue;
          for (const action of actions) {
            if (action === 'Deny') denials.push({ policy: policyName, binding: bindingName, message: decision.message, reason: decision.reason });
            if (action === 'Warn') warnings.push(`Validation failed for ValidatingAdmissionPolicy '${policyName}' with binding '${bindingName}': ${decision.message}`);
          }
        }
        for (const message of result.auditErrors) denials.push({ policy: policyName, binding: bindingName, message, reason: undefined });
      }
    }
  }
  const first = denials[0];
  return first === undefined ? { allowed: true, warnings } : forbidden(attrs, first);
}

const CODES: Readonly<Record<string, number>> = { Forbidden: 403, Unauthorized: 401, RequestEntityTooLarge: 413, Invalid: 422 };

/** admission.NewForbidden, then the reason and code of the decision and one cause with the bare message. */
function forbidden(attrs: AdmissionAttributes, denial: Denial): AdmissionVerdict {
  const message =
    denial.binding === undefined
      ? `ValidatingAdmissionPolicy '${denial.policy}' denied request: ${denial.message}`
      : `ValidatingAdmissionPolicy '${denial.policy}' with binding '${denial.binding}' denied request: ${denial.message}`;
  const reason = denial.reason ?? 'Invalid';
  const code = CODES[reason] ?? 422;
  const meta = attrs.object !== null && isObject(attrs.object['metadata']) ? attrs.object['metadata'] : {};
  // The name is the object's, or its generateName, or "Unknown" (a DELETE has no object).
  const name = str(meta['name']) || str(meta['generateName']) || 'Unknown';
  const resource = attrs.group === '' ? attrs.resource : `${attrs.resource}.${attrs.group}`;
  const details: JsonObject = { name, kind: attrs.resource, causes: [{ message }] };
  if (attrs.group !== '') details['group'] = attrs.group;
  return {
    allowed: false,
    code,
    status: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `${resource} "${name}" is forbidden: ${message}`, reason, details, code },
  };
}

function notFoundNamespace(name: string): AdmissionVerdict {
  return {
    allowed: false,
    code: 404,
    status: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `namespaces "${name}" not found`, reason: 'NotFound', details: { name, kind: 'namespaces' }, code: 404 },
  };
}
