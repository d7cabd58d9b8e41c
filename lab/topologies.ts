// Ready-made networks. `demoTopology` mirrors the original walk-through address for address, so
// the demo, the integration tests and the README tell the same story.
import type { LabHost, LabRoute, Pod, Topology } from './topology.ts';

/** Addresses of the demo network, for tests and the demo script to refer to by name. */
export const DEMO = {
  vipCidr: { v4: '10.200.0.0/16', v6: 'fd00:200::/64' },
  lbNode: { v4: '10.180.1.16', v6: 'fd00:180:1::16' },
  /** The second LB node of the BGP variant: same VIPs, announced side by side (ECMP). */
  lbNode2: { v4: '10.180.1.17', v6: 'fd00:180:1::17' },
  router: { client: { v4: '10.0.1.1', v6: 'fd00:1::1' }, datacenter: { v4: '10.180.1.1', v6: 'fd00:180:1::1' } },
  client: { v4: '10.0.1.2', v6: 'fd00:1::2' },
  nodes: { node1: { v4: '10.180.1.21', v6: 'fd00:180:1::21' }, node2: { v4: '10.180.1.22', v6: 'fd00:180:1::22' } },
  pods: {
    pod1a: { node: 'node1', v4: '10.100.1.41', v6: 'fd00:100:1::41' },
    pod1b: { node: 'node1', v4: '10.100.1.42', v6: 'fd00:100:1::42' },
    pod2a: { node: 'node2', v4: '10.100.2.41', v6: 'fd00:100:2::41' },
  },
} as const;

const viaRouter: readonly LabRoute[] = [
  { to: 'default', via: DEMO.router.datacenter.v4 },
  { to: 'default', via: DEMO.router.datacenter.v6 },
];

export interface DemoTopologyOptions {
  /** 1 (default): lb1 only. 2: also lb2 (10.180.1.17) on the dc bridge, routed like lb1. */
  readonly lbNodes?: 1 | 2;
  /**
   * true (default): the router holds the seed's static route for the VIP CIDRs via lb1. false:
   * it has none, and learns the VIPs by BGP (BIRD in the router, see lab/bird.ts).
   */
  readonly staticVipRoute?: boolean;
}

const lbRoutes: readonly LabRoute[] = [
  ...viaRouter,
  { to: '10.100.1.0/24', via: DEMO.nodes.node1.v4 },
  { to: '10.100.2.0/24', via: DEMO.nodes.node2.v4 },
  { to: 'fd00:100:1::/64', via: DEMO.nodes.node1.v6 },
  { to: 'fd00:100:2::/64', via: DEMO.nodes.node2.v6 },
];

/**
 * client ─veth─ router ═bridge "dc" (in router)═ lb1, node1, node2; pods behind node1/node2.
 * By default the router holds the seed's static route for the VIP CIDR via lb1; the BGP variant
 * (`{ lbNodes: 2, staticVipRoute: false }`) adds lb2 and leaves the router to learn the VIPs.
 */
export function demoTopology(options: DemoTopologyOptions = {}): Topology {
  const lbNodes = options.lbNodes ?? 1;
  const staticVipRoute = options.staticVipRoute ?? true;
  const pods: Pod[] = Object.entries(DEMO.pods).map(([name, p]) => ({ name, node: p.node, addresses: [p.v4, p.v6] }));
  const lbHosts: LabHost[] = [{ name: 'lb1', forwarding: true, routes: lbRoutes }];
  const lbMembers = [{ host: 'lb1', addresses: [`${DEMO.lbNode.v4}/24`, `${DEMO.lbNode.v6}/64`] }];
  if (lbNodes === 2) {
    lbHosts.push({ name: 'lb2', forwarding: true, routes: lbRoutes });
    lbMembers.push({ host: 'lb2', addresses: [`${DEMO.lbNode2.v4}/24`, `${DEMO.lbNode2.v6}/64`] });
  }
  // With two LB nodes the router spreads flows over both (ECMP); hashing on L4 ports (policy 1)
  // is what lets one client's connections use both, not only one per source address.
  const multipath = lbNodes === 2 ? { sysctls: { 'net.ipv4.fib_multipath_hash_policy': '1', 'net.ipv6.fib_multipath_hash_policy': '1' } } : {};
  return {
    hosts: [
      { name: 'client', routes: [{ to: 'default', via: DEMO.router.client.v4 }, { to: 'default', via: DEMO.router.client.v6 }] },
      {
        name: 'router',
        forwarding: true,
        ...multipath,
        routes: staticVipRoute
          ? [
              { to: DEMO.vipCidr.v4, via: DEMO.lbNode.v4 },
              { to: DEMO.vipCidr.v6, via: DEMO.lbNode.v6 },
            ]
          : [],
      },
      ...lbHosts,
      { name: 'node1', forwarding: true, routes: viaRouter },
      { name: 'node2', forwarding: true, routes: viaRouter },
    ],
    segments: [
      {
        name: 'cl',
        members: [
          { host: 'client', addresses: [`${DEMO.client.v4}/24`, `${DEMO.client.v6}/64`] },
          { host: 'router', addresses: [`${DEMO.router.client.v4}/24`, `${DEMO.router.client.v6}/64`] },
        ],
      },
      {
        name: 'dc',
        bridgeIn: 'router',
        members: [
          { host: 'router', addresses: [`${DEMO.router.datacenter.v4}/24`, `${DEMO.router.datacenter.v6}/64`] },
          ...lbMembers,
          { host: 'node1', addresses: [`${DEMO.nodes.node1.v4}/24`, `${DEMO.nodes.node1.v6}/64`] },
          { host: 'node2', addresses: [`${DEMO.nodes.node2.v4}/24`, `${DEMO.nodes.node2.v6}/64`] },
        ],
      },
    ],
    pods,
  };
}

export interface BenchTopologyOptions {
  /** Number of backend pods, 1–50, all behind one node so that only the LB is in the path. */
  readonly backends: number;
}

/**
 * For benchmarks: `client` ─veth─ `lb1` ─veth─ `node1` with N pods (10.100.1.(41+i),
 * fd00:100:1::(41+i) in hex). The client reaches the VIP CIDR (10.200.0.0/16) via lb1 directly;
 * no router in the path, so a measurement is the LB's cost and not a bridge's.
 */
export function benchTopology(options: BenchTopologyOptions): Topology {
  if (!Number.isInteger(options.backends) || options.backends < 1 || options.backends > 50) {
    throw new RangeError(`benchTopology: backends must be an integer from 1 to 50, got ${options.backends}`);
  }
  const pods: Pod[] = Array.from({ length: options.backends }, (_, i) => ({
    name: `pod${i + 1}`,
    node: 'node1',
    addresses: [`10.100.1.${41 + i}`, `fd00:100:1::${(0x41 + i).toString(16)}`],
  }));
  return {
    hosts: [
      { name: 'client', routes: [{ to: 'default', via: '10.0.1.1' }, { to: 'default', via: 'fd00:1::1' }] },
      {
        name: 'lb1',
        forwarding: true,
        routes: [
          { to: '10.100.1.0/24', via: '10.180.1.21' },
          { to: 'fd00:100:1::/64', via: 'fd00:180:1::21' },
        ],
      },
      { name: 'node1', forwarding: true, routes: [{ to: 'default', via: '10.180.1.16' }, { to: 'default', via: 'fd00:180:1::16' }] },
    ],
    segments: [
      { name: 'cl', members: [{ host: 'client', addresses: ['10.0.1.2/24', 'fd00:1::2/64'] }, { host: 'lb1', addresses: ['10.0.1.1/24', 'fd00:1::1/64'] }] },
      { name: 'dc', members: [{ host: 'lb1', addresses: ['10.180.1.16/24', 'fd00:180:1::16/64'] }, { host: 'node1', addresses: ['10.180.1.21/24', 'fd00:180:1::21/64'] }] },
    ],
    pods,
  };
}
