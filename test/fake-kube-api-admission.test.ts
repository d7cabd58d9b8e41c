// admit() beyond what admission.json recorded: the generic parts of ValidatingAdmissionPolicy that
// vipgate's own policy does not exercise (rule wildcards and subresources, selectors, exclusions,
// paramRef selector and namespace defaulting, Warn/Audit, failurePolicy Ignore, evaluation
// errors, message fallbacks, lazy variables), each against kube-apiserver 1.32's code paths.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { admit, type AdmissionAttributes, type AdmissionVerdict } from './support/fake-kube-api/admission-policy.ts';
import { str, type JsonObject } from './support/fake-kube-api/json.ts';
import { MemoryAdmissionCluster } from './support/fake-kube-api/memory-admission-cluster.ts';

const RULES = [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['configmaps'] }];

function policy(spec: JsonObject, name = 'p'): JsonObject {
  return { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name }, spec: { matchConstraints: { resourceRules: RULES }, ...spec } };
}

function binding(spec: JsonObject = {}, name = 'b', policyName = 'p'): JsonObject {
  return { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name }, spec: { policyName, validationActions: ['Deny'], ...spec } };
}

function cluster(...objects: JsonObject[]): MemoryAdmissionCluster {
  const c = new MemoryAdmissionCluster();
  c.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns', labels: { env: 'prod' } } });
  c.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'dev', labels: { env: 'dev' } } });
  for (const o of objects) c.put(o);
  return c;
}

function configMap(namespace = 'ns', data: Readonly<Record<string, string>> = {}, labels: Readonly<Record<string, string>> = {}): JsonObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace, labels: { ...labels } }, data: { ...data } };
}

function create(object: JsonObject, extra: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  const meta = object['metadata'] as JsonObject;
  const namespace = meta['namespace'];
  return {
    operation: 'CREATE',
    group: '',
    version: 'v1',
    resource: 'configmaps',
    kind: 'ConfigMap',
    ...(typeof namespace === 'string' ? { namespace } : {}),
    name: str(meta['name']) ?? '',
    object,
    oldObject: null,
    userInfo: { username: 'alice', groups: ['system:authenticated'] },
    dryRun: false,
    ...extra,
  };
}

const DENY_ALL = { validations: [{ expression: 'false', message: 'no' }] };

function message(v: AdmissionVerdict): string {
  if (v.allowed) return 'allowed';
  return `${v.code} ${str(v.status['reason']) ?? ''} ${str(v.status['message']) ?? ''}`;
}

describe('admit(): matching', () => {
  test('rules: wildcards, operations, scope, subresources and resourceNames', () => {
    const cases: [JsonObject, Partial<AdmissionAttributes>, boolean][] = [
      [{ apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*'] }, {}, true],
      [{ apiGroups: [''], apiVersions: ['v1'], operations: ['DELETE'], resources: ['configmaps'] }, {}, false],
      [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['configmaps'], scope: 'Cluster' }, {}, false],
      [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['configmaps'], scope: 'Namespaced' }, {}, true],
      [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['configmaps'] }, { subresource: 'status' }, false],
      [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['configmaps/*'] }, { subresource: 'status' }, true],
      [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['*/status'] }, { subresource: 'status' }, true],
      [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['configmaps'], resourceNames: ['other'] }, {}, false],
      [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['configmaps'], resourceNames: ['cm'] }, {}, true],
    ];
    for (const [rule, extra, denied] of cases) {
      const verdict = admit(create(configMap(), extra), cluster(policy({ ...DENY_ALL, matchConstraints: { resourceRules: [rule] } }), binding()));
      assert.equal(!verdict.allowed, denied, JSON.stringify([rule, extra]));
    }
  });

  test('namespaceSelector, objectSelector (object or oldObject) and excludeResourceRules', () => {
    const byNs = policy({ ...DENY_ALL, matchConstraints: { resourceRules: RULES, namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] } } });
    assert.equal(admit(create(configMap('ns')), cluster(byNs, binding())).allowed, false);
    assert.equal(admit(create(configMap('dev')), cluster(byNs, binding())).allowed, true);

    const byLabel = policy({ ...DENY_ALL, matchConstraints: { resourceRules: RULES, objectSelector: { matchLabels: { guarded: 'yes' } } } });
    assert.equal(admit(create(configMap('ns', {}, { guarded: 'yes' })), cluster(byLabel, binding())).allowed, false);
    assert.equal(admit(create(configMap()), cluster(byLabel, binding())).allowed, true);
    // An update that removes the label is still selected through oldObject.
    const update = create(configMap(), { operation: 'UPDATE', oldObject: configMap('ns', {}, { guarded: 'yes' }) });
    assert.equal(admit(update, cluster(byLabel, binding())).allowed, false);

    const excluding = policy({ ...DENY_ALL, matchConstraints: { resourceRules: RULES, excludeResourceRules: [{ ...RULES[0], resourceNames: ['cm'] }] } });
    assert.equal(admit(create(configMap()), cluster(excluding, binding())).allowed, true);
  });

  test('a binding’s matchResources narrows the policy; a binding naming another policy does nothing', () => {
    const narrowed = binding({ matchResources: { namespaceSelector: { matchLabels: { env: 'dev' } } } });
    assert.equal(admit(create(configMap('ns')), cluster(policy(DENY_ALL), narrowed)).allowed, true);
    assert.equal(admit(create(configMap('dev')), cluster(policy(DENY_ALL), narrowed)).allowed, false);
    assert.equal(admit(create(configMap()), cluster(policy(DENY_ALL), binding({}, 'b', 'other'))).allowed, true);
    assert.equal(admit(create(configMap()), cluster(policy(DENY_ALL))).allowed, true, 'no binding: no effect');
  });

  test('the policies themselves are exempt', () => {
    const all = policy({ ...DENY_ALL, matchConstraints: { resourceRules: [{ apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*'] }] } });
    const vap = create(policy({}), { group: 'admissionregistration.k8s.io', resource: 'validatingadmissionpolicies', kind: 'ValidatingAdmissionPolicy' });
    assert.equal(admit(vap, cluster(all, binding())).allowed, true);
  });
});

describe('admit(): params', () => {
  const usesParams = { paramKind: { apiVersion: 'v1', kind: 'Secret' }, validations: [{ expression: "params.data.allowed == 'yes'", messageExpression: "'param ' + params.metadata.name" }] };
  const secret = (name: string, namespace: string, allowed: string, labels: Readonly<Record<string, string>> = {}): JsonObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { ...labels } },
    data: { allowed },
  });

  test('a namespaced paramKind looks in the request’s namespace unless paramRef names one', () => {
    const c = cluster(policy(usesParams), binding({ paramRef: { name: 's', parameterNotFoundAction: 'Deny' } }), secret('s', 'ns', 'yes'), secret('s', 'dev', 'no'));
    assert.equal(admit(create(configMap('ns')), c).allowed, true);
    assert.match(message(admit(create(configMap('dev')), c)), /^422 Invalid configmaps "cm" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: param s$/);
    const pinned = cluster(policy(usesParams), binding({ paramRef: { name: 's', namespace: 'dev', parameterNotFoundAction: 'Deny' } }), secret('s', 'dev', 'no'));
    assert.equal(admit(create(configMap('ns')), pinned).allowed, false);
  });

  test('a selector evaluates every matching param; none found with Allow skips the binding', () => {
    const c = cluster(policy(usesParams), binding({ paramRef: { selector: { matchLabels: { role: 'p' } }, parameterNotFoundAction: 'Allow' } }));
    assert.equal(admit(create(configMap()), c).allowed, true);
    c.put(secret('a', 'ns', 'yes', { role: 'p' })).put(secret('z', 'ns', 'no', { role: 'p' }));
    assert.match(message(admit(create(configMap()), c)), /denied request: param z$/);
  });

  test('configuration errors obey failurePolicy Ignore', () => {
    const deny = binding({ paramRef: { name: 'missing', parameterNotFoundAction: 'Deny' } });
    assert.equal(admit(create(configMap()), cluster(policy(usesParams), deny)).allowed, false);
    assert.equal(admit(create(configMap()), cluster(policy({ ...usesParams, failurePolicy: 'Ignore' }), deny)).allowed, true);
    const notServed = cluster(policy({ ...usesParams, failurePolicy: 'Ignore' }), deny).stopServing('v1', 'Secret');
    assert.equal(admit(create(configMap()), notServed).allowed, true);
  });
});

describe('admit(): evaluation', () => {
  test('Warn gives the apiserver’s warning text; Audit alone lets the request through', () => {
    const warned = admit(create(configMap()), cluster(policy(DENY_ALL), binding({ validationActions: ['Warn', 'Audit'] })));
    assert.deepEqual(warned, { allowed: true, warnings: ["Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': no"] });
  });

  test('reason picks the code; without one it is Invalid (422)', () => {
    const withReason = (reason: string): string =>
      message(admit(create(configMap()), cluster(policy({ validations: [{ expression: 'false', message: 'm', reason }] }), binding())));
    assert.match(withReason('Forbidden'), /^403 Forbidden /);
    assert.match(withReason('Unauthorized'), /^401 Unauthorized /);
    assert.match(withReason('RequestEntityTooLarge'), /^413 RequestEntityTooLarge /);
    assert.match(message(admit(create(configMap()), cluster(policy(DENY_ALL), binding()))), /^422 Invalid /);
  });

  test('messages: messageExpression, else message, else "failed expression: …"; the first failing validation answers', () => {
    const validations = [
      { expression: 'true', message: 'never' },
      { expression: "object.metadata.name == 'x'", messageExpression: "'   '", message: ' fallback ' },
      { expression: 'false' },
    ];
    assert.match(message(admit(create(configMap()), cluster(policy({ validations }), binding()))), /denied request: fallback$/);
    assert.match(message(admit(create(configMap()), cluster(policy({ validations: [{ expression: '1 == 2' }] }), binding()))), /denied request: failed expression: 1 == 2$/);
  });

  test('an evaluation error denies under Fail and is ignored under Ignore; unused variables are not evaluated', () => {
    const spec = {
      variables: [
        { name: 'broken', expression: 'object.nope' },
        { name: 'fine', expression: "object.metadata.name + '!'" },
      ],
      validations: [{ expression: "variables.fine == 'cm!'" }, { expression: 'variables.broken == 1' }],
    };
    assert.match(
      message(admit(create(configMap()), cluster(policy(spec), binding()))),
      /^422 Invalid .*denied request: expression 'variables.broken == 1' resulted in error: composited variable "broken" fails to evaluate: no such key: nope$/,
    );
    assert.equal(admit(create(configMap()), cluster(policy({ ...spec, failurePolicy: 'Ignore' }), binding())).allowed, true);
    assert.equal(admit(create(configMap()), cluster(policy({ ...spec, validations: [{ expression: "variables.fine == 'cm!'" }] }), binding())).allowed, true);
  });

  test('matchConditions: a false one skips the policy; an error denies under Fail', () => {
    const conditions = (expression: string): JsonObject => policy({ ...DENY_ALL, matchConditions: [{ name: 'c', expression }] });
    assert.equal(admit(create(configMap()), cluster(conditions("object.metadata.name == 'other'"), binding())).allowed, true);
    assert.match(message(admit(create(configMap()), cluster(conditions('object.nope == 1'), binding()))), /denied request: expression 'object.nope == 1' resulted in error: no such key: nope$/);
    // The matcher runs without the namespace: namespaceObject is null there, unlike in validations.
    assert.equal(admit(create(configMap()), cluster(conditions('namespaceObject == null'), binding())).allowed, false);
  });

  test('request, namespaceObject and oldObject reach CEL', () => {
    const spec = {
      validations: [
        {
          expression:
            "request.operation == 'UPDATE' && request.namespace == 'ns' && request.name == 'cm' && request.userInfo.username == 'alice' && " +
            "namespaceObject.metadata.labels.env == 'prod' && oldObject.data.k == 'old' && object.data.k == 'new' && request.kind.kind == 'ConfigMap'",
        },
      ],
    };
    const update = create(configMap('ns', { k: 'new' }), { operation: 'UPDATE', oldObject: configMap('ns', { k: 'old' }) });
    assert.deepEqual(admit(update, cluster(policy(spec), binding())), { allowed: true, warnings: [] });
  });

  test('a DELETE has no object: the Status names "Unknown"', () => {
    const deletes = policy({ ...DENY_ALL, matchConstraints: { resourceRules: [{ ...RULES[0], operations: ['DELETE'] }] } });
    const verdict = admit(create(configMap(), { operation: 'DELETE', object: null, oldObject: configMap() }), cluster(deletes, binding()));
    assert.match(message(verdict), /^422 Invalid configmaps "Unknown" is forbidden: /);
  });
});
