// A small cluster (one Service, two EndpointSlices, a node, a pool) shared by the Kubernetes
// source's tests and the agent's tests of what it serves from that source.
import type { KubeEndpointSlice, KubeService } from '../kube/index.ts';
import type { ClusterState } from './kubernetes.ts';

export const policy = { isDefaultClass: false };
export const web: KubeService = {
  metadata: { name: 'web', namespace: 'shop', annotations: { 'vipgate.io/sharing-key': 'k' } },
  spec: {
    type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', sessionAffinity: 'ClientIP', loadBalancerSourceRanges: ['192.0.2.0/24'],
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http-alt' }, { name: 'dns', port: 53, protocol: 'UDP' }],
  },
  status: { loadBalancer: { ingress: [{ ip: '10.200.0.7', ipMode: 'VIP' }] } },
};
export const slice = (name: string, port: number, endpoints: KubeEndpointSlice['endpoints']): KubeEndpointSlice => ({
  metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port, protocol: 'TCP' }],
  endpoints,
});
export const state = (more: Partial<ClusterState> = {}): ClusterState => ({
  services: [web],
  endpointSlices: [
    // Two slices with different numbers for the named target port (a rolling change of the pods' port).
    slice('web-a', 8080, [
      { addresses: ['10.100.1.1'], conditions: { ready: true, serving: true, terminating: false } },
      { addresses: ['10.100.1.2'], conditions: { ready: false, serving: true, terminating: true } },
      { addresses: ['10.100.1.3'], conditions: { ready: false, serving: false, terminating: true } },
      { addresses: ['10.100.1.4'], conditions: { ready: false, serving: false, terminating: false } },
    ]),
    slice('web-b', 9090, [{ addresses: ['10.100.2.1'] }]),
  ],
  nodes: [{ metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '10.180.1.11' }, { type: 'Hostname', address: 'n1' }] } }],
  pools: [{ metadata: { name: 'default' }, spec: { addresses: ['10.200.0.0/24'] } }],
  ...more,
});
