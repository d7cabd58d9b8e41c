// The agent's Kubernetes source against the fake API, with the controller assigning: the
// desired state the agent computes follows the cluster through flaps and dropped watches.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type { AgentInput } from '../src/agent/agent.ts';
import { computeDesiredState } from '../src/agent/desired.ts';
import { runController, type RunningController } from '../src/controller/index.ts';
import { startKubernetesSource, type KubernetesSource } from '../src/sources/kubernetes.ts';
import { FakeKubeApi, type JsonObject } from './support/fake-kube-api/index.ts';
import { create, ingressOf, quietLog, service, until, vipPool, applyVipgateCrds } from './support/fake-kube-api/fixtures.ts';

let api: FakeKubeApi;
let controller: RunningController;
let source: KubernetesSource;
const inputs: AgentInput[] = [];

beforeEach(async () => {
  api = new FakeKubeApi();
  applyVipgateCrds(api);
  await api.start();
  inputs.length = 0;
  controller = runController({ kubeconfigText: api.kubeconfig(), log: quietLog, leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 100, informerRestartMs: 50 });
  source = startKubernetesSource({ kubeconfigText: api.kubeconfig(), log: quietLog, debounceMs: 20, informerRestartMs: 50, onInput: (input) => inputs.push(input) });
  await source.ready;
});
afterEach(async () => {
  await source.stop();
  await controller.stop();
  await api.stop();
});

const sliceOf = (name: string, ready: boolean, terminating = false): JsonObject => ({
  metadata: { name: 'web-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: [
    { addresses: ['10.100.1.41'], conditions: { ready: true, serving: true, terminating: false } },
    { addresses: ['10.100.1.42'], conditions: { ready, serving: ready || terminating, terminating } },
  ],
});

/** What the agent would program now, as `frontend backend state` rows. */
function served(): string[] {
  const last = inputs.at(-1);
  if (last === undefined) return [];
  return computeDesiredState(last, new Map()).table.frontends.flatMap((f) => f.backends.map((b) => `${f.key} ${b.address}:${b.port} ${b.state}`));
}

test('a Service POSTed to the API is served on the controller\'s VIP with its ready endpoints', async () => {
  create(api, 'vippools', vipPool('default', { addresses: ['10.200.0.0/24'] }));
  create(api, 'services', service('web'));
  create(api, 'endpointslices', sliceOf('web', true), 'discovery.k8s.io');
  await until('VIP assigned', () => ingressOf(api, 'web').length === 1);
  const vip = ingressOf(api, 'web')[0]!;
  await until('served', () => served().length === 2);
  assert.deepEqual(served(), [`${vip}:80/tcp 10.100.1.41:8080 ready`, `${vip}:80/tcp 10.100.1.42:8080 ready`]);
});

test('an EndpointSlice flapping: every state is followed, and the last one wins', async () => {
  create(api, 'vippools', vipPool('default', { addresses: ['10.200.0.0/24'] }));
  create(api, 'services', service('web'));
  create(api, 'endpointslices', sliceOf('web', true), 'discovery.k8s.io');
  await until('served', () => served().length === 2);
  const r = api.resource('endpointslices');
  for (let i = 0; i < 50; i++) {
    const current = api.store.get(r, 'default', 'web-abc');
    const next = { ...sliceOf('web', i % 2 === 1, i % 4 === 0), metadata: current['metadata']! };
    api.store.update(r, 'default', 'web-abc', next, undefined);
  }
  // i = 49: ready again. A terminating-but-serving endpoint drains, a not-serving one is dropped.
  await until('ready after the flapping', () => served().filter((s) => s.endsWith('ready')).length === 2);
  assert.ok(inputs.length < 50, `a burst is debounced into few inputs (${inputs.length})`);
  api.store.update(r, 'default', 'web-abc', { ...sliceOf('web', false, true), metadata: api.store.get(r, 'default', 'web-abc')['metadata']! }, undefined);
  await until('draining', () => served().some((s) => s.endsWith('10.100.1.42:8080 terminating')));
  api.store.update(r, 'default', 'web-abc', { ...sliceOf('web', false, false), metadata: api.store.get(r, 'default', 'web-abc')['metadata']! }, undefined);
  await until('dropped', () => served().length === 1);
});

test('a watch that drops mid-stream: the source recovers and misses no change', async () => {
  create(api, 'vippools', vipPool('default', { addresses: ['10.200.0.0/24'] }));
  create(api, 'services', service('web'));
  await until('VIP', () => ingressOf(api, 'web').length === 1);
  await until('all watches open', () => api.openWatches >= 6);
  api.dropWatches();
  // Changes while no watch is open are replayed from the last resourceVersion on restart.
  create(api, 'endpointslices', sliceOf('web', true), 'discovery.k8s.io');
  await until('served after the drop', () => served().length === 2);
  api.expireHistory();
  api.store.delete(api.resource('endpointslices'), 'default', 'web-abc');
  await until('deletion seen after the relist', () => served().length === 0);
});
