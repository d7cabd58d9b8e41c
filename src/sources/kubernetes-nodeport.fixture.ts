// A cluster of LB and worker nodes in every state, with one Service, for the nodeIP:nodePort
// backends: shared by the Kubernetes source's tests and the agent's tests of what it serves.
import type { KubeEndpointSlice, KubeNode, KubeService } from '../kube/index.ts';
import type { ClusterState } from './kubernetes.ts';

export const policy = { isDefaultClass: false };
export const nodePort = { mode: 'nodePort', selfNodeName: 'lb1' } as const;

export function node(name: string, addresses: string[], more: { labels?: Record<string, string>; ready?: string; unschedulable?: boolean; deleting?: boolean } = {}): KubeNode {
  return {
    metadata: { name, labels: more.labels ?? {}, ...(more.deleting === true ? { deletionTimestamp: '2026-11-26T06:00:00Z' } : {}) },
    spec: more.unschedulable === true ? { unschedulable: true } : {},
    status: {
      addresses: [...addresses.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: name }],
      conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: more.ready ?? 'True' }],
    },
  };
}

export const nodes: KubeNode[] = [
  node('lb1', ['10.180.1.16']),
  node('lb2', ['10.180.1.17'], { labels: { 'node-role.kubernetes.io/lb': '' } }),
  node('node1', ['10.180.1.21', 'fd00:180:1::21']),
  node('node2', ['10.180.1.22', 'fd00:180:1::22']),
  node('node3', ['10.180.1.23'], { ready: 'Unknown' }),
  node('node4', ['10.180.1.24'], { unschedulable: true }),
  node('node5', ['10.180.1.25'], { deleting: true }),
  node('node6', ['10.180.1.26'], { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': '' } }),
  { metadata: { name: 'node7' }, status: { addresses: [{ type: 'InternalIP', address: '10.180.1.27' }] } },
];

export const web = (spec: Partial<NonNullable<KubeService['spec']>> = {}, ingress = ['10.200.0.7']): KubeService => ({
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb',
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 31080 }, { name: 'dns', port: 53, protocol: 'UDP', nodePort: 31053 }],
    ...spec,
  },
  status: { loadBalancer: { ingress: ingress.map((ip) => ({ ip, ipMode: 'VIP' })) } },
});

export const slice = (endpoints: KubeEndpointSlice['endpoints']): KubeEndpointSlice => ({
  metadata: { name: 'web-a', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints,
});
export const pods = slice([
  { addresses: ['10.100.1.1'], nodeName: 'node1', conditions: { ready: true, serving: true, terminating: false } },
  { addresses: ['10.100.2.1'], nodeName: 'node2', conditions: { ready: false, serving: true, terminating: true } },
]);

export const state = (services: KubeService[], endpointSlices: KubeEndpointSlice[] = [pods], nodeList: KubeNode[] = nodes): ClusterState => ({
  services, endpointSlices, nodes: nodeList, pools: [{ metadata: { name: 'default' }, spec: { addresses: ['10.200.0.0/24', 'fd00:200::/64'] } }],
});
