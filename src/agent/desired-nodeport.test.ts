// nodeIP:nodePort backends (LBNodeConfig `backends: nodePort`, file `kubernetes.backends`): what
// the agent serves from the Kubernetes source's input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeService } from '../kube/index.ts';
import { inputFromCluster, type ClusterState } from '../sources/kubernetes.ts';
import { node, nodePort, nodes, pods, policy, slice, state, web } from '../sources/kubernetes-nodeport.fixture.ts';
import { computeDesiredState } from './desired.ts';

/** What the agent would program, as `frontend backend state` rows. */
function served(s: ClusterState, choice: Parameters<typeof inputFromCluster>[2] = nodePort): string[] {
  const { input } = inputFromCluster(s, policy, choice);
  return computeDesiredState(input, new Map()).table.frontends.flatMap((f) => f.backends.map((b) => `${f.key} ${b.address}:${b.port} ${b.state}`));
}

test('Cluster policy: every Ready, schedulable non-LB node at the nodePort; the pods are not backends', () => {
  assert.deepEqual(served(state([web()])), [
    '10.200.0.7:53/udp 10.180.1.21:31053 ready',
    '10.200.0.7:53/udp 10.180.1.22:31053 ready',
    '10.200.0.7:80/tcp 10.180.1.21:31080 ready',
    '10.200.0.7:80/tcp 10.180.1.22:31080 ready',
  ]);
  // The same cluster with pod backends, for contrast.
  assert.deepEqual(served(state([web()]), { mode: 'pods' }), ['10.200.0.7:80/tcp 10.100.1.1:8080 ready', '10.200.0.7:80/tcp 10.100.2.1:8080 terminating']);
});

test('Local policy: only nodes with an endpoint; a node whose endpoints only drain drains', () => {
  assert.deepEqual(served(state([web({ externalTrafficPolicy: 'Local' })])), [
    '10.200.0.7:80/tcp 10.180.1.21:31080 ready',
    '10.200.0.7:80/tcp 10.180.1.22:31080 terminating',
  ], 'dns has no endpoints on any node (no slice carries it): no backends, so it is not served');
  // An endpoint on a node that is not a target (not Ready) adds nothing; ready wins over terminating on one node.
  const more = slice([
    { addresses: ['10.100.3.1'], nodeName: 'node3', conditions: { ready: true } },
    { addresses: ['10.100.2.2'], nodeName: 'node2', conditions: { ready: true } },
  ]);
  assert.deepEqual(served(state([web({ externalTrafficPolicy: 'Local' })], [pods, { ...more, metadata: { ...more.metadata, name: 'web-b' } }])), [
    '10.200.0.7:80/tcp 10.180.1.21:31080 ready',
    '10.200.0.7:80/tcp 10.180.1.22:31080 ready',
  ]);
});

test('Local policy: each node weighs as many as its ready pods, so every pod gets an even share; Cluster: weight 1', () => {
  const three = slice([
    { addresses: ['10.100.1.1'], nodeName: 'node1', conditions: { ready: true } },
    { addresses: ['10.100.1.2'], nodeName: 'node1', conditions: { ready: true } },
    { addresses: ['10.100.1.3'], nodeName: 'node1', conditions: { ready: true } },
    { addresses: ['10.100.1.4'], nodeName: 'node1', conditions: { ready: false, serving: true, terminating: true } },
    { addresses: ['10.100.2.1'], nodeName: 'node2', conditions: { ready: true } },
  ]);
  const weights = (svc: KubeService): string[] => {
    const { input } = inputFromCluster(state([svc], [three]), policy, nodePort);
    return computeDesiredState(input, new Map()).table.frontends.filter((f) => f.port === 80).flatMap((f) => f.backends.map((b) => `${b.address} ×${b.weight}`));
  };
  assert.deepEqual(weights(web({ externalTrafficPolicy: 'Local' })), ['10.180.1.21 ×3', '10.180.1.22 ×1'], 'a draining pod adds no weight');
  assert.deepEqual(weights(web()), ['10.180.1.21 ×1', '10.180.1.22 ×1']);
});

test('the backend family follows the VIP: a dual-stack Service gets each node\'s IPv4 and IPv6 InternalIP', () => {
  assert.deepEqual(served(state([web({ ports: [{ name: 'http', port: 80, nodePort: 31080 }] }, ['10.200.0.7', 'fd00:200::7'])])), [
    '10.200.0.7:80/tcp 10.180.1.21:31080 ready',
    '10.200.0.7:80/tcp 10.180.1.22:31080 ready',
    '[fd00:200::7]:80/tcp fd00:180:1::21:31080 ready',
    '[fd00:200::7]:80/tcp fd00:180:1::22:31080 ready',
  ]);
});

test('a node turning NotReady, or being cordoned, drops out of every Service at the next input', () => {
  // The same Service object throughout, as an informer cache holds it: the per-Service cache
  // must notice that the nodes changed although the Service and its slices did not.
  const svc = web();
  const before = served(state([svc]));
  assert.ok(before.some((r) => r.includes('10.180.1.22')));
  const cordoned = nodes.map((n) => (n.metadata?.name === 'node2' ? node('node2', ['10.180.1.22'], { unschedulable: true }) : n));
  assert.ok(!served(state([svc], [pods], cordoned)).some((r) => r.includes('10.180.1.22')));
  const notReady = nodes.map((n) => (n.metadata?.name === 'node2' ? node('node2', ['10.180.1.22'], { ready: 'False' }) : n));
  assert.ok(!served(state([svc], [pods], notReady)).some((r) => r.includes('10.180.1.22')));
  assert.deepEqual(served(state([svc])), before);
  assert.deepEqual(served(state([svc]), { mode: 'pods' }), ['10.200.0.7:80/tcp 10.100.1.1:8080 ready', '10.200.0.7:80/tcp 10.100.2.1:8080 terminating']);
});

test('without selfNodeName only the label keeps LB nodes out (a file-mode agent outside the cluster has no Node)', () => {
  const rows = served(state([web()]), { mode: 'nodePort' });
  assert.ok(rows.some((r) => r.includes('10.180.1.16:31080')), 'lb1 carries no LB label, and nothing says it is this node');
  assert.ok(!rows.some((r) => r.includes('10.180.1.17')));
});
