// The install never stops a Service that does not use externalIPs, whatever state vipgate is in,
// and refuses externalIPs no pool allows from the first moment: checked against the fake API
// server, whose admission evaluates ValidatingAdmissionPolicies the way a real kube-apiserver
// v1.32 does (replayed against its recorded answers in test/kube-conformance*.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runController, type RunningController } from '../src/controller/index.ts';
import { renderManifests } from '../src/manifests/index.ts';
import { loadCorpus } from './support/conformance/corpus.ts';
import { FakeKubeApi, type JsonObject } from './support/fake-kube-api/index.ts';
import { quietLog, until } from './support/fake-kube-api/fixtures.ts';
import { eventually } from './support/eventually.ts';

interface Answer {
  readonly status: number;
  readonly body: JsonObject;
}

/** A request as kubectl (admin) makes it. */
async function kube(api: FakeKubeApi, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Answer> {
  const res = await fetch(api.url + path, {
    method,
    headers: { accept: 'application/json', authorization: 'Bearer admin', ...(body === undefined ? {} : { 'content-type': contentType }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as JsonObject };
}

/** `kubectl apply -f` of a fresh install: each object created, in the file's order. */
async function applyAll(api: FakeKubeApi, objects: readonly JsonObject[]): Promise<void> {
  for (const obj of objects) {
    const apiVersion = obj['apiVersion'] as string;
    const kind = obj['kind'] as string;
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    const meta = obj['metadata'] as { name: string; namespace?: string };
    const plural = PLURALS[kind];
    assert.ok(plural !== undefined, `no plural known for ${kind}`);
    const base = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
    const ns = meta.namespace === undefined ? '' : `/namespaces/${meta.namespace}`;
    const r = await kube(api, 'POST', `${base}${ns}/${plural}`, obj);
    assert.equal(r.status, 201, `${kind} ${meta.name}: ${JSON.stringify(r.body['message'])}`);
  }
}

const PLURALS: Readonly<Record<string, string>> = {
  Namespace: 'namespaces', CustomResourceDefinition: 'customresourcedefinitions', ServiceAccount: 'serviceaccounts',
  ClusterRole: 'clusterroles', ClusterRoleBinding: 'clusterrolebindings', Role: 'roles', RoleBinding: 'rolebindings',
  Deployment: 'deployments', DaemonSet: 'daemonsets', ConfigMap: 'configmaps',
  ValidatingAdmissionPolicy: 'validatingadmissionpolicies', ValidatingAdmissionPolicyBinding: 'validatingadmissionpolicybindings',
};

function svc(name: string, namespace: string, spec: JsonObject = {}): JsonObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { ports: [{ port: 80, targetPort: 80 }], selector: { app: name }, ...spec } };
}

const createService = (api: FakeKubeApi, s: JsonObject): Promise<Answer> =>
  kube(api, 'POST', `/api/v1/namespaces/${(s['metadata'] as { namespace: string }).namespace}/services`, s);

const messageOf = (a: Answer): string => (typeof a.body['message'] === 'string' ? a.body['message'] : '');

describe('the install with no controller, then with one, after an API server restart, half uninstalled', { concurrency: false }, () => {
  let api: FakeKubeApi;
  let controller: RunningController | undefined;
  before(async () => {
    api = new FakeKubeApi();
    await api.start();
    await applyAll(api, renderManifests() as unknown as JsonObject[]);
  });
  after(async () => {
    await controller?.stop();
    await api.stop();
  });

  test('before the controller ever ran: plain Services are created in every namespace; externalIPs are refused', async () => {
    for (const [name, ns] of [['plain', 'default'], ['dns', 'kube-system'], ['web', 'vipgate-system']] as const) {
      const r = await createService(api, svc(name, ns));
      assert.equal(r.status, 201, `${ns}/${name}: ${JSON.stringify(r.body['message'])}`);
    }
    const lb = await createService(api, svc('nginx2', 'default', { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb' }));
    assert.equal(lb.status, 201, JSON.stringify(lb.body['message']));
    const ext = await createService(api, svc('nginx', 'default', { externalIPs: ['10.200.0.5'] }));
    assert.equal(ext.status, 403);
    assert.match(messageOf(ext), /spec\.externalIPs: 10\.200\.0\.5 not allowed in namespace default; no VIPPool allows externalIPs here/);
    // The API server's own Service can still be written (it was refused under the old binding).
    const patched = await kube(api, 'PATCH', '/api/v1/namespaces/default/services/kubernetes', { metadata: { labels: { touched: 'yes' } } }, 'application/merge-patch+json');
    assert.equal(patched.status, 200, JSON.stringify(patched.body['message']));
  });

  test('the controller starts: it writes the pools into the params, and the allowed address is admitted', async () => {
    const pool = await kube(api, 'POST', '/apis/vipgate.io/v1alpha1/vippools', {
      apiVersion: 'vipgate.io/v1alpha1', kind: 'VIPPool', metadata: { name: 'default' },
      spec: { addresses: ['10.200.0.0/16'], allowExternalIPs: true, namespaces: ['default'] },
    });
    assert.equal(pool.status, 201, JSON.stringify(pool.body['message']));
    controller = runController({ kubeconfigText: api.kubeconfig(), log: quietLog, leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 100, informerRestartMs: 50 });
    await until('the controller leads', () => controller!.leading());
    const data = await eventually('the params to hold the pool', async () => (await kube(api, 'GET', '/api/v1/namespaces/vipgate-system/configmaps/vipgate-external-ips')).body['data'] as JsonObject | undefined, 10_000);
    assert.deepEqual(data, { default: 'default=10.200.0.0/16' });
    const ext = await createService(api, svc('nginx', 'default', { externalIPs: ['10.200.0.5'] }));
    assert.equal(ext.status, 201, JSON.stringify(ext.body['message']));
    const elsewhere = await createService(api, svc('evil', 'kube-system', { externalIPs: ['10.200.0.5'] }));
    assert.equal(elsewhere.status, 403);
    assert.match(messageOf(elsewhere), /not allowed in namespace kube-system/);
    // And the LoadBalancer Service created before the controller ran now has its VIP.
    await eventually('nginx2 to get a VIP', async () => {
      const ingress = (((await kube(api, 'GET', '/api/v1/namespaces/default/services/nginx2')).body['status'] as JsonObject)['loadBalancer'] as JsonObject)['ingress'];
      return Array.isArray(ingress) && ingress.length === 1 ? true : undefined;
    }, 10_000);
  });

  test('right after an API server restart (custom kinds unknown to admission for a while), Service writes go on', async () => {
    api.restart({ paramKindBlindForMs: 30_000 });
    const r = await createService(api, svc('after-restart', 'default'));
    assert.equal(r.status, 201, JSON.stringify(r.body['message']));
    const ext = await createService(api, svc('after-restart-ext', 'default', { externalIPs: ['192.0.2.1'] }));
    assert.equal(ext.status, 403, 'externalIPs are still checked: the params are a core kind');
  });

  test('half uninstalled (the controller and the params ConfigMap gone, the policy left): plain Services are still created', async () => {
    await controller?.stop();
    controller = undefined;
    const gone = await kube(api, 'DELETE', '/api/v1/namespaces/vipgate-system/configmaps/vipgate-external-ips');
    assert.equal(gone.status, 200);
    const r = await createService(api, svc('after-uninstall', 'kube-system'));
    assert.equal(r.status, 201, JSON.stringify(r.body['message']));
  });
});

describe('the same fake refuses what the real server refused under the first shipped policy', () => {
  // Guards the test above: the fake does reproduce the harm (recorded in admission.json), so a
  // policy that had it would fail there.
  test('the recorded manifests (ExternalIPPolicy params, Deny) refuse a plain Service while the params are missing', async () => {
    const api = new FakeKubeApi();
    await api.start();
    try {
      const recorded = loadCorpus('apply').exchanges.filter((e) => e.request.method === 'POST').map((e) => e.request.body as JsonObject);
      await applyAll(api, recorded);
      const r = await createService(api, svc('plain', 'kube-system'));
      assert.equal(r.status, 422);
      assert.match(messageOf(r), /no params found for policy binding with `Deny` parameterNotFoundAction/);
    } finally {
      await api.stop();
    }
  });
});
