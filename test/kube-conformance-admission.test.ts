// admit() (the fake API server's ValidatingAdmissionPolicy) replayed against admission.json, the
// exchanges recorded from a real kube-apiserver v1.32 with vipgate's policy installed: every
// Service write whose answer admission decides must get the recorded code, message, reason and
// details (or be allowed with the recorded warnings). The rest is listed by name with the reason.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadCorpus, type Exchange } from './support/conformance/corpus.ts';
import { compareExchange } from './support/conformance/replay.ts';
import { compileErrors } from './support/fake-kube-api/admission-cel.ts';
import { admit, type AdmissionAttributes } from './support/fake-kube-api/admission-policy.ts';
import { isObject, str, type Json, type JsonObject } from './support/fake-kube-api/json.ts';
import { MemoryAdmissionCluster } from './support/fake-kube-api/memory-admission-cluster.ts';
import { mergePatch } from './support/fake-kube-api/patch.ts';
import { renderManifests } from '../src/manifests/index.ts';

/** Recorded answers that another stage of the apiserver gives; admit() is not asked. */
const DECIDED_BEFORE_ADMISSION: Readonly<Record<string, string>> = {
  'policy-status': 'a GET: reads are not admitted (and status.typeChecking is the controller-manager’s)',
  'alice-no-rbac': 'authorization (RBAC) refuses alice before admission runs',
  'alice-no-rights-kube-system': 'authorization (RBAC) refuses alice before admission runs',
  'externalips-not-an-ip':
    'the Service’s own validation ("must be a valid IP address", 422) runs before validating admission; admit() would answer the policy’s 403 (!isIP), which the real server never reaches',
};

/**
 * Writes the policy does not match (not Services) or that admission lets through to a storage
 * answer: admit() must allow them; their recorded answer (201, or a 404 from storage) is not
 * admission's, and what they create (namespace, params) is kept in the cluster.
 */
const ADMITTED_ANSWERED_ELSEWHERE: Readonly<Record<string, string>> = {
  'create-namespace-team-b': 'a Namespace: setup',
  'no-param-delete-allowed': 'DELETE is not among the policy’s operations; the 404 is storage’s',
  'policy-merge-patch-missing': 'the params object does not exist yet: storage’s 404',
  'policy-create': 'the params object: kept as the policy’s params from here on',
  'role-default': 'RBAC setup',
  'rolebinding-default': 'RBAC setup',
  'role-team-b': 'RBAC setup',
  'rolebinding-team-b': 'RBAC setup',
  'policy-emptied': 'the params object emptied: kept',
};

/** Taken before this exchange: the notes' apiserver restart, after which the params CRD is unresolved. */
const RESTART_BEFORE = 'after-apiserver-restart';

const USERS: Readonly<Record<string, AdmissionAttributes['userInfo']>> = {
  admin: { username: 'admin', groups: ['system:masters', 'system:authenticated'] },
  alice: { username: 'alice', groups: ['system:authenticated'] },
};

const KINDS: Readonly<Record<string, string>> = {
  services: 'Service',
  namespaces: 'Namespace',
  roles: 'Role',
  rolebindings: 'RoleBinding',
  externalippolicies: 'ExternalIPPolicy',
};

interface Target {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly dryRun: boolean;
}

/** /api/v1/namespaces/ns/services/x?dryRun=All, /apis/g/v/res/x, … into their parts. */
function parsePath(path: string): Target {
  const [p = '', query = ''] = path.split('?');
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/.exec(p);
  assert.ok(m !== null, `unexpected path ${path}`);
  // A namespace create is POST /api/v1/namespaces: "namespaces" is the resource there, not a prefix.
  const [, coreVersion, group, version, namespace, resource, name] = m;
  const target = { group: group ?? '', version: coreVersion ?? version ?? '', dryRun: /(^|&)dryRun=All(&|$)/.test(query) };
  if (resource === undefined && namespace !== undefined) return { ...target, resource: 'namespaces', name: namespace };
  return { ...target, resource: resource ?? '', ...(namespace === undefined ? {} : { namespace }), ...(name === undefined ? {} : { name }) };
}

const apply = loadCorpus('apply');
const admission = loadCorpus('admission');

/** The cluster apply.json leaves: its objects as kubectl sent them, and the built-in namespaces. */
function installedCluster(): MemoryAdmissionCluster {
  const cluster = new MemoryAdmissionCluster();
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    cluster.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } });
  }
  for (const ex of apply.exchanges) if (ex.request.method === 'POST' && isObject(ex.request.body)) cluster.put(ex.request.body);
  return cluster;
}

/** The apiserver's own default/kubernetes Service, which the recording patches but never shows. */
const KUBERNETES_SERVICE: JsonObject = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
  spec: { type: 'ClusterIP', ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] },
};

/** Keeps what the recorded successes wrote and turns a recorded request into admission attributes. */
class Replay {
  readonly cluster = installedCluster();
  readonly #objects = new Map<string, JsonObject>([['services/default/kubernetes', KUBERNETES_SERVICE]]);

  attributes(ex: Exchange): AdmissionAttributes {
    const t = parsePath(ex.request.path);
    const body = ex.request.body;
    const key = `${t.resource}/${t.namespace ?? ''}/${t.name ?? (isObject(body) && isObject(body['metadata']) ? (str(body['metadata']['name']) ?? '') : '')}`;
    const stored = this.#objects.get(key) ?? null;
    const operation = ex.request.method === 'POST' ? 'CREATE' : ex.request.method === 'DELETE' ? 'DELETE' : 'UPDATE';
    let object: JsonObject | null = null;
    if (operation === 'CREATE' && isObject(body)) object = body;
    if (operation === 'UPDATE' && body !== undefined) {
      const patched: Json = mergePatch(stored ?? undefined, body);
      object = isObject(patched) ? patched : null;
    }
    const meta = object !== null && isObject(object['metadata']) ? object['metadata'] : {};
    return {
      operation,
      group: t.group,
      version: t.version,
      resource: t.resource,
      kind: KINDS[t.resource] ?? '',
      ...(t.namespace === undefined ? {} : { namespace: t.namespace }),
      name: t.name ?? str(meta['name']) ?? '',
      object,
      oldObject: operation === 'CREATE' ? null : stored,
      userInfo: USERS[ex.request.user ?? 'admin']!,
      dryRun: t.dryRun,
    };
  }

  /** What a recorded success stored: the answer's object, for later patches, params and namespaces. */
  remember(ex: Exchange, attrs: AdmissionAttributes): void {
    const body = ex.response.body;
    if (ex.response.status >= 300 || !isObject(body) || attrs.dryRun) return;
    const meta = isObject(body['metadata']) ? body['metadata'] : {};
    this.#objects.set(`${attrs.resource}/${attrs.namespace ?? ''}/${str(meta['name']) ?? ''}`, body);
    if (attrs.resource !== 'services') this.cluster.put(body);
  }
}

describe('admission.json through admit()', () => {
  test('every admission-decided exchange answers as recorded; the rest is accounted for', () => {
    const replay = new Replay();
    const failures: string[] = [];
    let compared = 0;
    for (const ex of admission.exchanges) {
      if (ex.name in DECIDED_BEFORE_ADMISSION) continue;
      if (ex.name === RESTART_BEFORE) replay.cluster.stopServing('vipgate.io/v1alpha1', 'ExternalIPPolicy');
      const attrs = replay.attributes(ex);
      const verdict = admit(attrs, replay.cluster);
      if (ex.name in ADMITTED_ANSWERED_ELSEWHERE) {
        if (!verdict.allowed) failures.push(`${ex.name}: refused by admit() (${JSON.stringify(verdict.status['message'])}), the policy should not decide it`);
      } else {
        assert.equal(attrs.resource, 'services', `${ex.name} is neither listed nor a Service write`);
        compared++;
        const diffs = verdict.allowed
          ? ex.response.status < 300
            ? warningDiffs(ex, verdict.warnings)
            : [`allowed, recorded ${ex.response.status} ${JSON.stringify(isObject(ex.response.body) ? ex.response.body['message'] : '')}`]
          : compareExchange(ex, { status: verdict.code, body: verdict.status, headers: {} });
        for (const d of diffs) failures.push(`${ex.name}: ${d}`);
      }
      replay.remember(ex, attrs);
    }
    assert.deepEqual(failures, []);
    const accounted = compared + Object.keys(DECIDED_BEFORE_ADMISSION).length + Object.keys(ADMITTED_ANSWERED_ELSEWHERE).length;
    assert.equal(accounted, admission.exchanges.length, 'an exchange is neither compared nor listed');
    assert.equal(compared, 19);
  });

  test('the listed exchanges exist (a renamed recording must not silently drop out)', () => {
    const names = new Set(admission.exchanges.map((e) => e.name));
    for (const name of [...Object.keys(DECIDED_BEFORE_ADMISSION), ...Object.keys(ADMITTED_ANSWERED_ELSEWHERE), RESTART_BEFORE]) assert.ok(names.has(name), name);
  });
});

function warningDiffs(ex: Exchange, warnings: readonly string[]): string[] {
  const recorded = ex.response.headers?.warning ?? [];
  return JSON.stringify(recorded) === JSON.stringify(warnings) ? [] : [`warnings ${JSON.stringify(warnings)}, recorded ${JSON.stringify(recorded)}`];
}

// ---------------------------------------------------------------------------------------------
// The policy vipgate ships (rendered by `vipgate manifests`, docs/design/010-admission-params.md):
// params are a ConfigMap, always served, so an apiserver restart cannot make the paramKind
// unresolvable; parameterNotFoundAction Allow, so a missing ConfigMap refuses nothing; data maps
// a namespace (or ".all-namespaces") to "pool=cidr,cidr pool=cidr".

const rendered = renderManifests() as unknown as JsonObject[];
const renderedOf = (kind: string): JsonObject => {
  const found = rendered.find((o) => o['kind'] === kind);
  assert.ok(found, `the manifests render a ${kind}`);
  return JSON.parse(JSON.stringify(found)) as JsonObject;
};
const CONFIGMAP_POLICY = renderedOf('ValidatingAdmissionPolicy');
const CONFIGMAP_BINDING = renderedOf('ValidatingAdmissionPolicyBinding');
const SHIPPED_PARAMS = renderedOf('ConfigMap');
const POLICY_NAME = str((CONFIGMAP_POLICY['metadata'] as JsonObject)['name'])!;
const REFUSAL = `services "ext" is forbidden: ValidatingAdmissionPolicy '${POLICY_NAME}' with binding '${POLICY_NAME}' denied request: `;

/** The shipped params object (no data), or with the data the controller writes. */
function paramsConfigMap(data?: Readonly<Record<string, string>>): JsonObject {
  const cm: JsonObject = JSON.parse(JSON.stringify(SHIPPED_PARAMS)) as JsonObject;
  if (data !== undefined) cm['data'] = { ...data };
  return cm;
}

function configMapCluster(policy: JsonObject = CONFIGMAP_POLICY): MemoryAdmissionCluster {
  const cluster = new MemoryAdmissionCluster().put(policy).put(CONFIGMAP_BINDING);
  for (const name of ['default', 'team-b', 'vipgate-system']) cluster.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return cluster;
}

function service(namespace: string, externalIPs?: readonly string[], labels?: Readonly<Record<string, string>>): JsonObject {
  const spec: JsonObject = { selector: { app: 'nginx' }, ports: [{ port: 80, targetPort: 80 }] };
  if (externalIPs !== undefined) spec['externalIPs'] = [...externalIPs];
  const metadata: JsonObject = { name: 'ext', namespace };
  if (labels !== undefined) metadata['labels'] = { ...labels };
  return { apiVersion: 'v1', kind: 'Service', metadata, spec };
}

function write(object: JsonObject, oldObject: JsonObject | null = null): AdmissionAttributes {
  const meta = object['metadata'] as JsonObject;
  return {
    operation: oldObject === null ? 'CREATE' : 'UPDATE',
    group: '',
    version: 'v1',
    resource: 'services',
    kind: 'Service',
    namespace: str(meta['namespace']) ?? '',
    name: str(meta['name']) ?? '',
    object,
    oldObject,
    userInfo: USERS['alice']!,
    dryRun: false,
  };
}

const allowed = { allowed: true, warnings: [] };

function refusal(verdict: ReturnType<typeof admit>): { code: number; message: Json | undefined; reason: Json | undefined } {
  if (verdict.allowed) assert.fail(`expected a refusal, got ${JSON.stringify(verdict)}`);
  return { code: verdict.code, message: verdict.status['message'], reason: verdict.status['reason'] };
}

const DATA = { default: 'default=10.200.0.0/16 v6=fd00:200::/64' };

test('the manifests ship the params without data: no externalIP is admitted before the controller writes the pools', () => {
  assert.equal('data' in SHIPPED_PARAMS, false);
  const binding = (CONFIGMAP_BINDING['spec'] as JsonObject)['paramRef'] as JsonObject;
  assert.equal(binding['name'], (SHIPPED_PARAMS['metadata'] as JsonObject)['name']);
  assert.equal(binding['namespace'], (SHIPPED_PARAMS['metadata'] as JsonObject)['namespace']);
  assert.equal(refusal(admit(write(service('default', ['10.200.0.5'])), configMapCluster().put(paramsConfigMap()))).code, 403);
  assert.deepEqual(admit(write(service('default')), configMapCluster().put(paramsConfigMap())), allowed);
});

describe('the shipped ConfigMap-params policy through admit()', () => {
  test('its expressions compile in the Kubernetes 1.32 environment', () => {
    assert.deepEqual(compileErrors(CONFIGMAP_POLICY['spec'] as JsonObject), []);
  });

  test('ConfigMap missing: a plain Service passes (the harm of parameterNotFoundAction Deny is gone)', () => {
    assert.deepEqual(admit(write(service('default')), configMapCluster()), allowed);
  });

  test('ConfigMap deleted: a Service WITH externalIPs passes admission too (Allow skips the binding; the controller restores it, and the controller and agents still refuse unallowed addresses)', () => {
    assert.deepEqual(admit(write(service('team-b', ['192.0.2.10'])), configMapCluster()), allowed);
  });

  test('ConfigMap present: plain Services pass in every namespace', () => {
    const cluster = configMapCluster().put(paramsConfigMap(DATA));
    assert.deepEqual(admit(write(service('default')), cluster), allowed);
    assert.deepEqual(admit(write(service('team-b')), cluster), allowed);
  });

  test('addresses inside an allowed CIDR of the namespace pass (IPv4 and IPv6)', () => {
    const cluster = configMapCluster().put(paramsConfigMap(DATA));
    assert.deepEqual(admit(write(service('default', ['10.200.0.5', 'fd00:200::5'])), cluster), allowed);
  });

  test('".all-namespaces" entries apply in every namespace', () => {
    const cluster = configMapCluster().put(paramsConfigMap({ ...DATA, '.all-namespaces': 'shared=10.201.0.0/24' }));
    assert.deepEqual(admit(write(service('team-b', ['10.201.0.3'])), cluster), allowed);
  });

  test('outside the pools: 403 naming the address, the namespace and the allowed pools', () => {
    const cluster = configMapCluster().put(paramsConfigMap(DATA));
    assert.deepEqual(refusal(admit(write(service('default', ['10.200.0.7', '192.0.2.10'])), cluster)), {
      code: 403,
      reason: 'Forbidden',
      message: `${REFUSAL}spec.externalIPs: 192.0.2.10 not allowed in namespace default; VIPPools allowing externalIPs here: default (10.200.0.0/16), v6 (fd00:200::/64). Or use type: LoadBalancer (see vipgate migrate external-ips).`,
    });
  });

  test('a namespace without entries: 403 "no VIPPool allows externalIPs here"', () => {
    const cluster = configMapCluster().put(paramsConfigMap(DATA));
    assert.deepEqual(refusal(admit(write(service('team-b', ['10.200.0.5'])), cluster)), {
      code: 403,
      reason: 'Forbidden',
      message: `${REFUSAL}spec.externalIPs: 10.200.0.5 not allowed in namespace team-b; no VIPPool allows externalIPs here. Or use type: LoadBalancer (see vipgate migrate external-ips).`,
    });
  });

  test('a ConfigMap without data allows no externalIPs; malformed entries (edited by hand) admit nothing and fail nothing', () => {
    const message = `${REFUSAL}spec.externalIPs: 10.200.0.5 not allowed in namespace default; no VIPPool allows externalIPs here. Or use type: LoadBalancer (see vipgate migrate external-ips).`;
    assert.deepEqual(refusal(admit(write(service('default', ['10.200.0.5'])), configMapCluster().put(paramsConfigMap()))), { code: 403, reason: 'Forbidden', message });
    const junk = refusal(admit(write(service('default', ['10.200.0.5'])), configMapCluster().put(paramsConfigMap({ default: '  junk default=not-a-cidr =10.200.0.0/16x ' }))));
    assert.equal(junk.code, 403, 'a 403 from the rule, not a 422 evaluation error');
    assert.match(str(junk.message) ?? '', /spec\.externalIPs: 10\.200\.0\.5 not allowed in namespace default; /);
  });


  test('an UPDATE re-checks only the addresses it adds', () => {
    const cluster = configMapCluster().put(paramsConfigMap(DATA));
    const old = service('default', ['192.0.2.10']);
    assert.deepEqual(admit(write(service('default', ['192.0.2.10'], { tier: 'web' }), old), cluster), allowed);
    assert.equal(refusal(admit(write(service('default', ['192.0.2.10', '192.0.2.11']), old), cluster)).code, 403);
  });

  test('the ExternalIPPolicy CRD not served (the old post-restart window) no longer matters', () => {
    const cluster = configMapCluster().put(paramsConfigMap(DATA)).stopServing('vipgate.io/v1alpha1', 'ExternalIPPolicy');
    assert.deepEqual(admit(write(service('default')), cluster), allowed);
    assert.equal(refusal(admit(write(service('default', ['192.0.2.10'])), cluster)).code, 403);
  });

  test('were the paramKind itself not served, even a plain Service would be refused (before matchConditions, as recorded for the CRD)', () => {
    // Built-in kinds are always in the admission RESTMapper, so v1 ConfigMap cannot be in this state.
    const cluster = configMapCluster().put(paramsConfigMap(DATA)).stopServing('v1', 'ConfigMap');
    assert.deepEqual(refusal(admit(write(service('default')), cluster)), {
      code: 422,
      reason: 'Invalid',
      message: `services "ext" is forbidden: ValidatingAdmissionPolicy '${POLICY_NAME}' denied request: failed to configure policy: failed to find resource referenced by paramKind: '/v1, Kind=ConfigMap'`,
    });
  });

  test('type-checks like Kubernetes: a heterogeneous literal does not compile, and the request is refused under failurePolicy Fail', () => {
    const spec = CONFIGMAP_POLICY['spec'] as JsonObject;
    for (const expression of ["{'a': 1, 'b': 'x'}.size() > 0", "[object.metadata.name, 'x'].size() > 0"]) {
      const broken: JsonObject = { ...CONFIGMAP_POLICY, spec: { ...spec, matchConditions: [], validations: [{ expression }] } };
      assert.equal(compileErrors(broken['spec'] as JsonObject).length, 1, expression);
      const verdict = refusal(admit(write(service('default')), configMapCluster(broken).put(paramsConfigMap(DATA))));
      assert.equal(verdict.code, 422);
      assert.match(str(verdict.message) ?? '', /denied request: compilation error: compilation failed: /);
    }
    // request is typed as in Kubernetes, so a literal mixing request.namespace and a string is fine.
    assert.deepEqual(compileErrors({ ...spec, validations: [{ expression: "[request.namespace, 'x'].size() == 2" }] }), []);
  });
});
