// Whether a request falls under a policy's matchConstraints or a binding's matchResources, in the
// order k8s.io/apiserver's policy/matching Matcher checks: namespaceSelector, objectSelector,
// excludeResourceRules, resourceRules; a namespace-lookup error only counts once the rest match.
// Not implemented: matchPolicy Equivalent's matching through other versions of the resource
// (the fake has no equivalent-resource mapper), so Equivalent behaves like Exact.
import type { AdmissionAttributes, AdmissionCluster } from './admission-policy.ts';
import { isObject, str, type Json, type JsonObject } from './json.ts';
import { labelsOf, parseLabelSelector, selects } from './label-selector.ts';
import { matches as requirementsMatch } from './selector.ts';

export type MatchResult = { readonly matches: boolean } | { readonly error: string };

export function matchResources(criteria: JsonObject, attrs: AdmissionAttributes, cluster: AdmissionCluster): MatchResult {
  const ns = matchNamespaceSelector(criteria['namespaceSelector'], attrs, cluster);
  if ('matches' in ns && !ns.matches) return ns;
  const obj = parseLabelSelector(criteria['objectSelector']);
  if ('error' in obj) return { error: obj.error };
  if (obj.requirements.length > 0 && !selects(obj.requirements, attrs.object) && !selects(obj.requirements, attrs.oldObject)) return { matches: false };
  if (anyRuleMatches(criteria['excludeResourceRules'], attrs)) return { matches: false };
  const rules = criteria['resourceRules'];
  const included = !Array.isArray(rules) || rules.length === 0 || anyRuleMatches(rules, attrs);
  if (!included) return { matches: false };
  return 'error' in ns ? ns : { matches: true };
}

function matchNamespaceSelector(selector: Json | undefined, attrs: AdmissionAttributes, cluster: AdmissionCluster): MatchResult {
  // Cluster-scoped requests other than namespaces themselves are never exempted by it.
  if ((attrs.namespace ?? '') === '' && attrs.resource !== 'namespaces') return { matches: true };
  const parsed = parseLabelSelector(selector);
  if ('error' in parsed) return { error: parsed.error };
  if (parsed.requirements.length === 0) return { matches: true };
  // Creating or updating a namespace: its labels are in the request, not yet in the store.
  if (attrs.resource === 'namespaces' && (attrs.subresource ?? '') === '' && (attrs.operation === 'CREATE' || attrs.operation === 'UPDATE')) {
    return { matches: requirementsMatch(parsed.requirements, labelsOf(attrs.object)) };
  }
  const name = attrs.namespace ?? '';
  const namespace = cluster.namespace(name);
  if (namespace === undefined) return { error: `namespaces "${name}" not found` };
  return { matches: requirementsMatch(parsed.requirements, labelsOf(namespace)) };
}

function anyRuleMatches(rules: Json | undefined, attrs: AdmissionAttributes): boolean {
  return Array.isArray(rules) && rules.some((rule) => isObject(rule) && ruleMatches(rule, attrs));
}

const exactOrWildcard = (items: Json | undefined, requested: string): boolean =>
  Array.isArray(items) && items.some((item) => item === '*' || item === requested);

/** rules.Matcher (scope, operation, group, version, resource/subresource) plus resourceNames. */
function ruleMatches(rule: JsonObject, attrs: AdmissionAttributes): boolean {
  const isNamespaceObject = attrs.group === '' && attrs.version === 'v1' && attrs.resource === 'namespaces';
  const namespaced = (attrs.namespace ?? '') !== '';
  const scope = str(rule['scope']) ?? '*';
  const scopeOk = scope === '*' || (scope === 'Namespaced' ? !isNamespaceObject && namespaced : scope === 'Cluster' && (isNamespaceObject || !namespaced));
  if (!scopeOk || !exactOrWildcard(rule['operations'], attrs.operation)) return false;
  if (!exactOrWildcard(rule['apiGroups'], attrs.group) || !exactOrWildcard(rule['apiVersions'], attrs.version)) return false;
  const resources = Array.isArray(rule['resources']) ? rule['resources'] : [];
  const resourceOk = resources.some((r) => {
    if (typeof r !== 'string') return false;
    const slash = r.indexOf('/');
    const [res, sub] = slash < 0 ? [r, ''] : [r.slice(0, slash), r.slice(slash + 1)];
    return (res === '*' || res === attrs.resource) && (sub === '*' || sub === (attrs.subresource ?? ''));
  });
  if (!resourceOk) return false;
  const names = rule['resourceNames'];
  return !Array.isArray(names) || names.length === 0 || names.includes(attrs.name);
}
