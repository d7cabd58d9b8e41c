// nodeIP:nodePort backends (LBNodeConfig `backends: nodePort`, file `kubernetes.backends`): the source's half.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeService } from '../kube/index.ts';
import { inputFromCluster } from './kubernetes.ts';
import { nodeExclusion } from './kubernetes-nodeport.ts';
import { nodePort, nodes, policy, state, web } from './kubernetes-nodeport.fixture.ts';

test('why each node is left out', () => {
  const why = Object.fromEntries(nodes.map((n): [string, string] => [n.metadata?.name ?? '', nodeExclusion(n, 'lb1') ?? 'backend']));
  assert.deepEqual(why, {
    lb1: 'this LB node itself',
    lb2: 'an LB node (label node-role.kubernetes.io/lb)',
    node1: 'backend',
    node2: 'backend',
    node3: 'not Ready (Unknown)',
    node4: 'unschedulable (cordoned)',
    node5: 'being deleted',
    node6: 'labelled node.kubernetes.io/exclude-from-external-load-balancers',
    node7: 'not Ready (no Ready condition)',
  });
});

test('a Service without node ports is left out with a problem naming why; the others are served', () => {
  const bare = web({ allocateLoadBalancerNodePorts: false, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
  const other: KubeService = { ...web(), metadata: { name: 'other', namespace: 'shop' } };
  const ext: KubeService = { metadata: { name: 'ext', namespace: 'shop' }, spec: { type: 'ClusterIP', externalIPs: ['10.200.0.9'], ports: [{ port: 80 }] } };
  const { input, problems } = inputFromCluster(state([{ ...bare, metadata: { name: 'bare', namespace: 'shop' } }, other, ext]), policy, nodePort);
  assert.deepEqual(input.services.map((s) => s.key), ['shop/other']);
  assert.deepEqual(problems.map((p) => p.object), ['Service shop/bare', 'Service shop/ext']);
  assert.match(problems[0]!.message, /port 80\/TCP has no nodePort \(spec\.allocateLoadBalancerNodePorts is false\).*backends: nodePort/);
  assert.match(problems[1]!.message, /port 80\/TCP has no nodePort \(type ClusterIP has no node ports\)/);
});
