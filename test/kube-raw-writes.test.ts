// The controller's lean write path (src/kube/raw-writes.ts) against the strict fake API over
// real HTTP: what it writes is what kubectl then shows, and refusals keep their HTTP status, so
// the controller's conflict retry and 404 handling (statusOf) work as with the library.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeClients, refusalOf, statusOf, type KubeClients, type Refusal } from '../src/kube/index.ts';
import { rawWrites, type RawWrites } from '../src/kube/raw-writes.ts';
import { FakeKubeApi, type JsonObject } from './support/fake-kube-api/index.ts';
import { create, eventsFor, ingressOf, service, applyVipgateCrds } from './support/fake-kube-api/fixtures.ts';

let api: FakeKubeApi;
let raw: RawWrites;
let library: KubeClients;
before(async () => {
  api = new FakeKubeApi();
  applyVipgateCrds(api);
  await api.start();
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  raw = await rawWrites(kc);
  library = createKubeClients({ kubeconfigText: api.kubeconfig() });
});
after(() => api.stop());

const ingress = (ip: string): object => ({ loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } });

test('a status merge-patch lands in the status subresource and returns the Service', async () => {
  const created = create(api, 'services', service('web', { spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } }));
  const rv = (created['metadata'] as JsonObject)['resourceVersion'] as string;
  const back = await raw.patchServiceStatus('default', 'web', ingress('10.200.0.7'), rv);
  assert.deepEqual(ingressOf(api, 'web'), ['10.200.0.7']);
  assert.equal(back.status?.loadBalancer?.ingress?.[0]?.ip, '10.200.0.7');
});

test('a stale resourceVersion is refused with 409 and an unknown Service with 404, as statusOf reads them', async () => {
  create(api, 'services', service('stale', { spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } }));
  await assert.rejects(raw.patchServiceStatus('default', 'stale', ingress('10.200.0.8'), '1'), (e: unknown) => statusOf(e) === 409);
  assert.deepEqual(ingressOf(api, 'stale'), [], 'a refused write changed the status');
  await assert.rejects(raw.patchServiceStatus('default', 'nobody', ingress('10.200.0.9')), (e: unknown) => statusOf(e) === 404 && /HTTP 404/.test((e as Error).message));
});

test('an Event is recorded on the Service, as `kubectl describe` lists it', async () => {
  create(api, 'services', service('ev', { spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } }));
  await raw.createEvent({
    namespace: 'default', involved: { kind: 'Service', name: 'ev', namespace: 'default' }, type: 'Normal', reason: 'VIPAllocated',
    message: 'assigned VIPs 10.200.0.10', component: 'vipgate-controller', at: new Date(),
  });
  assert.deepEqual(eventsFor(api, 'ev').map((e) => [e.reason, e.message]), [['VIPAllocated', 'assigned VIPs 10.200.0.10']]);
});

test('writes asked for together all land, each answered with its own Service', async () => {
  const names = Array.from({ length: 40 }, (_, i) => `many-${i}`);
  for (const name of names) create(api, 'services', service(name, { spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } }));
  // More than the connection pool holds, all in one turn of the event loop.
  const answers = await Promise.all(names.map((name, i) => raw.patchServiceStatus('default', name, ingress(`10.201.0.${i + 1}`))));
  assert.deepEqual(answers.map((s) => [s.metadata?.name, s.status?.loadBalancer?.ingress?.[0]?.ip]), names.map((name, i) => [name, `10.201.0.${i + 1}`]));
  assert.deepEqual(names.map((name) => ingressOf(api, name)[0]), names.map((_, i) => `10.201.0.${i + 1}`));
});

test('a refused write reads the same through either HTTP stack: status, reason and the server\'s words', async () => {
  create(api, 'services', service('both', { spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } }));
  const refusals: Refusal[] = [];
  for (const write of [raw.patchServiceStatus.bind(raw), library.patchServiceStatus.bind(library)]) {
    const error = await write('default', 'both', ingress('10.200.0.11'), '1').then(() => undefined, (e: unknown) => e);
    const r = refusalOf(error);
    assert.ok(r !== undefined, `not a refusal: ${String(error)}`);
    refusals.push(r);
  }
  const [ours, theirs] = refusals as [Refusal, Refusal];
  assert.equal(ours.status, 409);
  assert.equal(ours.reason, 'Conflict');
  assert.doesNotMatch(ours.message, /HTTP 409|PATCH/, 'the message is the server\'s own, not ours around it');
  assert.deepEqual(ours, theirs);
});
