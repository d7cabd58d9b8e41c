// The controller's lean write path (src/kube/raw-writes.ts) against the strict fake API over
// real HTTP: what it writes is what kubectl then shows, and refusals keep their HTTP status, so
// the controller's conflict retry and 404 handling (statusOf) work as with the library.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { statusOf } from '../src/kube/index.ts';
import { rawWrites, type RawWrites } from '../src/kube/raw-writes.ts';
import { FakeKubeApi, type JsonObject } from './support/fake-kube-api/index.ts';
import { create, eventsFor, ingressOf, service } from './support/fake-kube-api/fixtures.ts';

let api: FakeKubeApi;
let raw: RawWrites;
before(async () => {
  api = new FakeKubeApi();
  await api.start();
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  raw = await rawWrites(kc);
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
