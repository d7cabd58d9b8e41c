// What the agent serves from the Kubernetes source's input (sources/kubernetes.ts → computeDesiredState).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeService } from '../kube/index.ts';
import { inputFromCluster } from '../sources/kubernetes.ts';
import { policy, state, web } from '../sources/kubernetes.fixture.ts';
import { computeDesiredState } from './desired.ts';

test('the agent serves exactly the controller\'s address, and nothing for a Service without status', () => {
  const pending: KubeService = { ...web, metadata: { name: 'pending', namespace: 'shop' }, status: {} };
  const { input } = inputFromCluster(state({ services: [pending, web] }), policy);
  assert.deepEqual(input.services.map((s) => s.key), ['shop/web']);
  const desired = computeDesiredState(input, new Map());
  assert.deepEqual(desired.table.frontends.map((f) => f.key), ['10.200.0.7:53/udp', '10.200.0.7:80/tcp']);
  assert.deepEqual(desired.advertisements, ['10.200.0.7/32']);
});

test('a pool with a serviceSelector: the agent serves the VIP the controller chose from it (it has no labels to re-judge)', () => {
  const pools = [{ metadata: { name: 'gold' }, spec: { addresses: ['10.200.0.0/24'], serviceSelector: { matchLabels: { tier: 'gold' } } } }];
  const { input, problems } = inputFromCluster(state({ pools }), policy);
  assert.deepEqual(problems, []);
  assert.equal(input.pools[0]?.serviceSelector, undefined);
  const desired = computeDesiredState(input, new Map());
  assert.deepEqual(desired.problems, []);
  assert.deepEqual(desired.table.frontends.map((f) => f.key), ['10.200.0.7:53/udp', '10.200.0.7:80/tcp']);
});
