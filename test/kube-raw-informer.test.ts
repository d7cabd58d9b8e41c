// The controller's lean Service list/watch (src/kube/raw-informer.ts) against the strict fake API
// over real HTTP: the same rules as the client library's informer, which watchKind relies on —
// one list, changes in order, one relist after 410, a torn watch or an error answer reported
// once, and then a restart from the last version that misses nothing.
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { statusOf, watchKind, type KubeClients, type KubeService } from '../src/kube/index.ts';
import { rawHttp, type RawHttp } from '../src/kube/raw-http.ts';
import { RawInformer } from '../src/kube/raw-informer.ts';
import { FakeKubeApi } from './support/fake-kube-api/index.ts';
import { create, service, until, applyVipgateCrds } from './support/fake-kube-api/fixtures.ts';

let api: FakeKubeApi;
let http: RawHttp;
const stops: (() => Promise<void>)[] = [];
before(async () => {
  api = new FakeKubeApi();
  applyVipgateCrds(api);
  // These tests count every Service they see: the cluster's own default/kubernetes would be noise.
  api.store.delete(api.resource('services'), 'default', 'kubernetes');
  await api.start();
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  http = await rawHttp(kc);
});
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  for (const s of api.store.list(api.resource('services'), undefined)) {
    const m = s['metadata'] as { namespace: string; name: string };
    api.store.delete(api.resource('services'), m.namespace, m.name);
  }
});
after(() => api.stop());

const lists = (): number => api.requests.filter((r) => r.method === 'GET' && !r.watch && r.path === '/api/v1/services').length;
const watches = (): number => api.requests.filter((r) => r.watch && r.path === '/api/v1/services').length;

function informer(): { informer: RawInformer<KubeService>; seen: string[]; errors: unknown[] } {
  const i = new RawInformer<KubeService>(http, '/api/v1/services');
  const seen: string[] = [];
  const errors: unknown[] = [];
  i.on('add', (s) => seen.push(`add ${s.metadata?.name}`));
  i.on('update', (s) => seen.push(`update ${s.metadata?.name}`));
  i.on('delete', (s) => seen.push(`delete ${s.metadata?.name}`));
  i.on('error', (e) => errors.push(e));
  stops.push(() => i.stop());
  return { informer: i, seen, errors };
}

test('lists once, then sees adds, updates and deletes in order', async () => {
  create(api, 'services', service('a'));
  create(api, 'services', service('b', { namespace: 'other' }));
  const { informer: i, seen, errors } = informer();
  const listsBefore = lists();
  await i.start();
  assert.deepEqual(seen.sort(), ['add a', 'add b']);
  assert.equal(i.get('b', 'other')?.metadata?.namespace, 'other');
  assert.equal(i.get('b'), undefined, 'namespaced objects are found by namespace');
  seen.length = 0;

  create(api, 'services', service('c'));
  const services = api.resource('services');
  api.store.update(services, 'default', 'a', { ...api.store.get(services, 'default', 'a'), status: { loadBalancer: { ingress: [{ ip: '10.200.0.1' }] } } }, 'status');
  api.store.delete(services, 'default', 'c');
  await until('three changes', () => seen.length === 3);
  assert.deepEqual(seen, ['add c', 'update a', 'delete c']);
  assert.equal(i.get('a', 'default')?.status?.loadBalancer?.ingress?.[0]?.ip, '10.200.0.1');
  assert.deepEqual(i.list().map((s) => s.metadata?.name).sort(), ['a', 'b']);
  assert.deepEqual(errors, []);
  assert.equal(lists(), listsBefore + 1, 'one list');
});

test('410 in the stream: exactly one relist, and a change made meanwhile is seen', async () => {
  create(api, 'services', service('x'));
  const { informer: i, seen, errors } = informer();
  await i.start();
  const listsBefore = lists();
  const watchesBefore = watches();
  api.expireHistory();
  api.store.delete(api.resource('services'), 'default', 'x');
  await until('delete x after the relist', () => seen.includes('delete x'));
  assert.equal(lists(), listsBefore + 1, '410 forced exactly one relist');
  await until('watching again', () => api.openWatches === 1);
  assert.equal(watches(), watchesBefore + 1);
  assert.deepEqual(errors, []);
});

test('a torn watch and an error answer are reported once each; watchKind restarts and misses nothing', async () => {
  create(api, 'services', service('p'));
  const { informer: i, errors } = informer();
  await i.start();
  await until('watch open', () => api.openWatches === 1);
  api.dropWatches();
  await until('torn watch reported', () => errors.length === 1);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(errors.length, 1, 'reported once, and not restarted by itself');
  assert.equal(api.openWatches, 0);

  // The list refused: reported with its status, for statusOf.
  await i.stop();
  const fresh = informer();
  api.failures.push({ method: 'GET', path: '/api/v1/services', status: 503, count: 1 });
  await fresh.informer.start();
  assert.equal(fresh.errors.length, 1);
  assert.equal(statusOf(fresh.errors[0]), 503);

  // Through watchKind (as the controller uses it): torn, restarted from its version, and a
  // Service created while it was down is seen without a relist.
  const clients = { informer: () => new RawInformer<KubeService>(http, '/api/v1/services') } as unknown as KubeClients;
  const seen: string[] = [];
  const watched = watchKind(clients, 'services', { restartDelayMs: 20, onChange: (type, s) => seen.push(`${type} ${s.metadata?.name}`) });
  stops.push(() => watched.stop());
  await watched.synced;
  await until('watch open', () => api.openWatches === 1);
  const listsBefore = lists();
  api.dropWatches();
  create(api, 'services', service('q'));
  await until('q seen after the restart', () => seen.includes('add q'));
  assert.equal(lists(), listsBefore, 'resumed from its resourceVersion, not relisted');
  assert.ok(watched.get('default/q') !== undefined);
});

test('stop() ends the watch, and nothing is called after it', async () => {
  const { informer: i, seen, errors } = informer();
  await i.start();
  await until('watch open', () => api.openWatches === 1);
  await i.stop();
  await until('watch closed', () => api.openWatches === 0);
  create(api, 'services', service('late'));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(seen, []);
  assert.deepEqual(errors, []);
});
