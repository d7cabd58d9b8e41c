// The fake API server, driven by the real @kubernetes/client-node: if these pass, the informers
// and clients in src/kube talk to it exactly as they would to a real API server.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { CoreV1Api, KubeConfig, makeInformer, PatchStrategy, setHeaderOptions, type V1Namespace, type V1Service } from '@kubernetes/client-node';
import { FakeKubeApi, type JsonObject } from './support/fake-kube-api/index.ts';
import { applyVipgateCrds } from './support/fake-kube-api/fixtures.ts';

let api: FakeKubeApi;
let core: CoreV1Api;
let kc: KubeConfig;

before(async () => {
  api = new FakeKubeApi();
  applyVipgateCrds(api);
  await api.start();
  kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  core = kc.makeApiClient(CoreV1Api);
});
after(() => api.stop());

// The client's model types are classes; tests send plain JSON, as kubectl would.
const asService = (json: unknown): V1Service => json as V1Service;
const svc = (name: string, extra: Record<string, unknown> = {}): V1Service =>
  asService({ metadata: { name, labels: { app: name } }, spec: { type: 'LoadBalancer', ports: [{ port: 80, targetPort: 8080 }] }, ...extra });

async function raw(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(path, api.url);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { 'content-type': contentType } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('create fills server fields and defaults, drops status, and get returns it', async () => {
  const created = await core.createNamespacedService({ namespace: 'default', body: svc('a', { status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } }) });
  assert.ok(created.metadata?.uid);
  assert.match(created.metadata.resourceVersion ?? '', /^\d+$/);
  assert.equal(created.spec?.ports?.[0]?.protocol, 'TCP');
  assert.deepEqual(created.status?.loadBalancer?.ingress, undefined, 'status in a create is ignored');
  const got = await core.readNamespacedService({ namespace: 'default', name: 'a' });
  assert.equal(got.metadata?.uid, created.metadata.uid);
});

test('the fake refuses what a real server refuses', async () => {
  // Unknown fields: refused under fieldValidation=Strict (what kubectl sends), dropped with a
  // Warning header under the default.
  const port = [{ port: 80 }];
  const unknownStrict = await raw('POST', '/api/v1/namespaces/default/services?fieldValidation=Strict', { metadata: { name: 'x-strict' }, spec: { ports: port }, spek: {} });
  assert.equal(unknownStrict.status, 400);
  assert.equal(unknownStrict.body['message'], 'strict decoding error: unknown field "spek"');
  const unknownWarn = await raw('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'x-warn' }, spec: { ports: port }, spek: {} });
  assert.equal(unknownWarn.status, 201);
  assert.equal(unknownWarn.body['spek'], undefined);
  const unknownNested = await raw('POST', '/api/v1/namespaces/default/services?fieldValidation=Strict', { metadata: { name: 'x-nested' }, spec: { ports: [{ port: 80, portt: 81 }] } });
  assert.equal(unknownNested.body['message'], 'strict decoding error: unknown field "spec.ports[0].portt"');
  const badType = await raw('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'x' }, spec: { ports: [{ port: '80' }] } });
  assert.equal(badType.status, 400);
  assert.match(String(badType.body['message']), /cannot unmarshal string into Go struct field ServicePort\.spec\.ports\.port of type int32/);
  // Node ports: only on NodePort/LoadBalancer, only in the node-port range (as the API server checks).
  const clusterIpNodePort = await raw('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'x' }, spec: { ports: [{ port: 80, nodePort: 30080 }] } });
  assert.equal(clusterIpNodePort.status, 422);
  assert.match(String(clusterIpNodePort.body['message']), /spec\.ports\[0\]\.nodePort: Forbidden: may not be used when `type` is 'ClusterIP'/);
  const outOfRange = await raw('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'x' }, spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] } });
  assert.match(String(outOfRange.body['message']), /not in the valid range\. The range of valid ports is 30000-32767/);
  const allocateOnClusterIp = await raw('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'x' }, spec: { allocateLoadBalancerNodePorts: false } });
  assert.equal(allocateOnClusterIp.status, 422);
  const noName = await raw('POST', '/api/v1/namespaces/default/services', { metadata: {}, spec: {} });
  assert.equal(noName.status, 422);
  const badName = await raw('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'Bad_Name' } });
  assert.equal(badName.status, 422);
  const wrongNs = await raw('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'y', namespace: 'other' } });
  assert.equal(wrongNs.status, 400);
  const dup = await raw('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'a' }, spec: { ports: port } });
  assert.equal(dup.status, 409);
  assert.equal(dup.body['reason'], 'AlreadyExists');
  const badPatchType = await raw('PATCH', '/api/v1/namespaces/default/services/a', { spec: {} }, 'application/json');
  assert.equal(badPatchType.status, 415);
  const missing = await raw('GET', '/api/v1/namespaces/default/services/nope');
  assert.equal(missing.status, 404);
  const noSuchSub = await raw('GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/x/status');
  assert.equal(noSuchSub.status, 404);
});

test('status changes only through /status; a stale resourceVersion is a 409', async () => {
  const current = await core.readNamespacedService({ namespace: 'default', name: 'a' });
  const body = structuredClone(current);
  body.spec!.sessionAffinity = 'ClientIP';
  Object.assign(body, { status: { loadBalancer: { ingress: [{ ip: '9.9.9.9' }] } } });
  const viaMain = await core.replaceNamespacedService({ namespace: 'default', name: 'a', body });
  assert.equal(viaMain.spec?.sessionAffinity, 'ClientIP');
  assert.equal(viaMain.status?.loadBalancer?.ingress, undefined, 'status written through the main resource is ignored');
  await assert.rejects(core.replaceNamespacedService({ namespace: 'default', name: 'a', body: current }), (e: { code?: number }) => e.code === 409);
  const patched = await core.patchNamespacedServiceStatus(
    { namespace: 'default', name: 'a', body: { status: { loadBalancer: { ingress: [{ ip: '10.200.0.1', ipMode: 'VIP' }] } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  assert.equal(patched.status?.loadBalancer?.ingress?.[0]?.ip, '10.200.0.1');
  assert.equal(patched.spec?.sessionAffinity, 'ClientIP');
  const stalePatch = await raw('PATCH', '/api/v1/namespaces/default/services/a/status', { metadata: { resourceVersion: current.metadata!.resourceVersion! } }, 'application/merge-patch+json');
  assert.equal(stalePatch.status, 409);
  const jp = await core.patchNamespacedService({ namespace: 'default', name: 'a', body: [{ op: 'add', path: '/metadata/annotations', value: { 'vipgate.io/pool': 'p' } }] });
  assert.equal(jp.metadata?.annotations?.['vipgate.io/pool'], 'p', 'JSON patch (the client default) applies');
});

test('list honours label selectors and namespaces', async () => {
  await core.createNamespace({ body: JSON.parse('{"metadata":{"name":"other"}}') as V1Namespace });
  await core.createNamespacedService({ namespace: 'other', body: svc('b') });
  const all = await core.listServiceForAllNamespaces();
  // default/kubernetes: the apiserver's own Service, in every cluster.
  assert.deepEqual(all.items.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`).sort(), ['default/a', 'default/kubernetes', 'default/x-warn', 'other/b']);
  const sel = await core.listServiceForAllNamespaces({ labelSelector: 'app in (b,c)' });
  assert.deepEqual(sel.items.map((s) => s.metadata?.name), ['b']);
  const neg = await core.listNamespacedService({ namespace: 'default', labelSelector: 'app!=a' });
  assert.deepEqual(neg.items.map((s) => s.metadata?.name), ['kubernetes', 'x-warn'], 'no app label at all is "not a"');
  assert.match(all.metadata?.resourceVersion ?? '', /^\d+$/);
});

test('an informer sees changes, relists once after 410, and reports a torn watch as an error', async () => {
  const informer = makeInformer(kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
  const seen: string[] = [];
  const errors: unknown[] = [];
  informer.on('add', (s) => seen.push(`add ${s.metadata?.name}`));
  informer.on('delete', (s) => seen.push(`delete ${s.metadata?.name}`));
  informer.on('error', (e) => errors.push(e));
  await informer.start();
  try {
    await until('initial list', () => seen.length === 4); // a, b, x-warn and the cluster's default/kubernetes
    await core.createNamespacedService({ namespace: 'default', body: svc('c') });
    await until('add c', () => seen.includes('add c'));

    // A clean end of the stream (as a server-side timeout): the client re-watches from its version.
    const listsBefore = api.requests.filter((r) => r.method === 'GET' && !r.watch && r.path === '/api/v1/services').length;
    api.expireHistory();
    await core.deleteNamespacedService({ namespace: 'default', name: 'c' });
    await until('delete c after relist', () => seen.includes('delete c'));
    const listsAfter = api.requests.filter((r) => r.method === 'GET' && !r.watch && r.path === '/api/v1/services').length;
    assert.equal(listsAfter, listsBefore + 1, '410 forced exactly one relist');
    assert.deepEqual(errors, []);

    // Torn connection: the client library reports an error and stops; our wrapper (src/kube)
    // restarts it. Here we only check the error reaches the caller.
    await until('watch open', () => api.openWatches === 1);
    api.dropWatches();
    await until('error reported', () => errors.length === 1);
  } finally {
    await informer.stop();
  }
});

test('a watch resumed from a compacted version gets 410 in the stream; bookmarks when asked', async () => {
  api.expireHistory();
  const gone = await new Promise<string>((resolve) => {
    request(new URL(`/api/v1/services?watch=true&resourceVersion=1`, api.url), (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    }).end();
  });
  assert.match(gone, /"type":"ERROR".*"code":410/);
  const lines: string[] = [];
  const req = request(new URL(`/api/v1/services?watch=1&allowWatchBookmarks=true&resourceVersion=${api.store.rv}`, api.url), (res) => {
    res.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter((l) => l !== '')));
  });
  req.end();
  await until('watch open', () => api.openWatches === 1);
  api.bookmark();
  await until('bookmark', () => lines.length === 1);
  assert.equal((JSON.parse(lines[0]!) as { type: string }).type, 'BOOKMARK');
  req.destroy();
});

test('injected failures and latency', async () => {
  api.failures.push({ method: 'GET', path: '/services', status: 500, count: 1 });
  await assert.rejects(core.listServiceForAllNamespaces(), (e: { code?: number }) => e.code === 500);
  await core.listServiceForAllNamespaces();
  api.latencyMs = 50;
  const t0 = Date.now();
  await core.listServiceForAllNamespaces();
  assert.ok(Date.now() - t0 >= 45);
  api.latencyMs = 0;
});

test('the store hands out copies: changing what create, get or list returns changes nothing stored', () => {
  const services = api.resource('services');
  // "__proto__" as JSON.parse makes it: an own key, which a careless copy turns into a prototype.
  const created = api.store.create(services, 'default', JSON.parse('{"metadata":{"name":"copies","annotations":{"__proto__":"x"}},"spec":{"type":"ClusterIP","ports":[{"port":80}]}}') as JsonObject);
  let seen: JsonObject | undefined;
  const off = api.store.onChange((_r, e) => (seen = e.object));
  try {
    api.store.update(services, 'default', 'copies', { ...created, spec: { ...(created['spec'] as JsonObject), sessionAffinity: 'ClientIP' } }, undefined);
  } finally {
    off();
  }
  const got = api.store.get(services, 'default', 'copies');
  (got['spec'] as JsonObject)['type'] = 'NodePort';
  (api.store.list(services, 'default').find((o) => (o['metadata'] as JsonObject)['name'] === 'copies')!['metadata'] as JsonObject)['name'] = 'renamed';
  (created['metadata'] as JsonObject)['namespace'] = 'elsewhere';
  const again = api.store.get(services, 'default', 'copies');
  assert.equal((again['spec'] as JsonObject)['type'], 'ClusterIP');
  assert.equal((again['spec'] as JsonObject)['sessionAffinity'], 'ClientIP');
  assert.equal((again['metadata'] as JsonObject)['name'], 'copies');
  assert.equal((again['metadata'] as JsonObject)['namespace'], 'default');
  const annotations = (again['metadata'] as JsonObject)['annotations'] as JsonObject;
  assert.deepEqual(Object.keys(annotations), ['__proto__']);
  assert.equal(Object.getPrototypeOf(annotations), Object.prototype);
  // Stored objects carry no apiVersion/kind: those depend on the version a client reads through.
  assert.equal((seen?.['metadata'] as JsonObject | undefined)?.['name'], 'copies', 'the change listener saw the stored object');
});

test('changes made in one turn of the event loop reach a watch as separate events, in order', async () => {
  const services = api.resource('services');
  const from = api.store.rv;
  const lines: string[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const req = request(new URL(`/api/v1/namespaces/batch/services?watch=true&resourceVersion=${from}`, api.url), (res) => {
      let buffer = '';
      res.on('data', (c: Buffer) => {
        buffer += c.toString();
        const parts = buffer.split('\n');
        buffer = parts.pop()!;
        lines.push(...parts);
        if (lines.length >= 5) {
          req.destroy();
          resolve();
        }
      });
    });
    req.on('error', (e) => (lines.length >= 5 ? resolve() : reject(e)));
    req.end();
  });
  await sleep(50);
  for (let i = 0; i < 5; i++) api.store.create(services, 'batch', { metadata: { name: `b${i}` }, spec: { type: 'ClusterIP', ports: [{ port: 80 }] } });
  await done;
  assert.deepEqual(lines.map((l) => { const e = JSON.parse(l) as { type: string; object: { metadata: { name: string } } }; return `${e.type} ${e.object.metadata.name}`; }), ['ADDED b0', 'ADDED b1', 'ADDED b2', 'ADDED b3', 'ADDED b4']);
});
