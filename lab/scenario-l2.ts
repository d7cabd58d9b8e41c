// The L2 walk-through: a client, two LB nodes and two cluster nodes on one bridge ("lan"), with
// no router and no static route. The VIPs come from the segment's own subnet; each is answered
// (ARP/NDP) by one LB node, which serves it with the nftables engine. The demo's `--l2` step,
// the failover tests and the failover benchmark all use this.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, type LabOptions } from './lab.ts';
import { lbAgent, type LbAgent } from './scenario.ts';
import type { Pod, Topology } from './topology.ts';

export const L2_LAB = {
  client: { v4: '10.180.1.2', v6: 'fd00:180:1::2' },
  lb1: { v4: '10.180.1.16', v6: 'fd00:180:1::16' },
  lb2: { v4: '10.180.1.17', v6: 'fd00:180:1::17' },
  node1: { v4: '10.180.1.21', v6: 'fd00:180:1::21' },
  node2: { v4: '10.180.1.22', v6: 'fd00:180:1::22' },
  pods: {
    pod1a: { node: 'node1', v4: '10.100.1.41', v6: 'fd00:100:1::41' },
    pod2a: { node: 'node2', v4: '10.100.2.41', v6: 'fd00:100:2::41' },
  },
  /** The VIPs, in the segment's subnet: one dual-stack Service per pair. */
  vips: Array.from({ length: 6 }, (_, i) => ({ v4: `10.180.1.${200 + i}`, v6: `fd00:180:1::${(0x200 + i).toString(16)}` })),
} as const;

export type L2Node = 'lb1' | 'lb2';
export const L2_NODES: readonly L2Node[] = ['lb1', 'lb2'];

/** client, lb1, lb2, node1, node2 on the bridge "lan" (inside "switch"); a pod behind each cluster node. */
export function l2Topology(): Topology {
  const pods: Pod[] = Object.entries(L2_LAB.pods).map(([name, p]) => ({ name, node: p.node, addresses: [p.v4, p.v6] }));
  const member = (host: 'client' | L2Node | 'node1' | 'node2'): { host: string; addresses: string[] } => {
    const a = L2_LAB[host];
    return { host, addresses: [`${a.v4}/24`, `${a.v6}/64`] };
  };
  const lbRoutes = [
    { to: '10.100.1.0/24', via: L2_LAB.node1.v4 },
    { to: '10.100.2.0/24', via: L2_LAB.node2.v4 },
    { to: 'fd00:100:1::/64', via: L2_LAB.node1.v6 },
    { to: 'fd00:100:2::/64', via: L2_LAB.node2.v6 },
  ];
  return {
    hosts: [
      { name: 'switch' },
      { name: 'client' },
      { name: 'lb1', forwarding: true, routes: lbRoutes },
      { name: 'lb2', forwarding: true, routes: lbRoutes },
      { name: 'node1', forwarding: true },
      { name: 'node2', forwarding: true },
    ],
    segments: [{ name: 'lan', bridgeIn: 'switch', members: [{ host: 'switch' }, member('client'), member('lb1'), member('lb2'), member('node1'), member('node2')] }],
    pods,
  };
}

/**
 * The agent's arguments on an L2 LB node: besides the API on 127.0.0.1:9470, /metrics on its own
 * segment address, port 9472 as in a cluster, so that a Prometheus on the segment scrapes both.
 */
export function l2AgentArgs(node: L2Node): string[] {
  return ['--metrics-listen', `${L2_LAB[node].v4}:9472`];
}

/** The switch's bridge port towards a member (members of "lan": switch, client, lb1, lb2, node1, node2). */
export function l2SwitchPort(host: 'client' | L2Node | 'node1' | 'node2'): string {
  return `lan-${['switch', 'client', 'lb1', 'lb2', 'node1', 'node2'].indexOf(host)}`;
}

export interface L2ConfigOptions {
  readonly failbackHoldDownSeconds?: number;
  readonly announce?: { readonly count: number; readonly intervalMs: number };
  /** More `pools:` entries (YAML list items at two spaces), e.g. a pool no advertisement names. */
  readonly extraPools?: string;
  /** More `services:` entries (YAML list items at two spaces). */
  readonly extraServices?: string;
  /** The dataplane of each LB node (default nftables): `xdp` serves with the XDP engine (generic mode on `lan`, nat, SNAT to the node's own addresses). */
  readonly engines?: Partial<Record<L2Node, 'nftables' | 'xdp'>>;
}

function engineSection(node: L2Node, options: L2ConfigOptions): string {
  if ((options.engines?.[node] ?? 'nftables') === 'nftables') return '  engine: nftables\n';
  const own = L2_LAB[node];
  return `  engine: xdp\n  xdp: { interfaces: [lan], mode: generic, snatAddresses: [${own.v4}, "${own.v6}"] }\n`;
}

/** The agent config of one L2 LB node: the same on both but for nodeName. */
export function l2Config(node: L2Node, options: L2ConfigOptions = {}): string {
  const services = L2_LAB.vips
    .map(
      (v, i) => `  - name: web${i}
    type: LoadBalancer
    loadBalancerIPs: [${v.v4}, "${v.v6}"]
    ipFamilyPolicy: RequireDualStack
    ipFamilies: [IPv4, IPv6]
    ports: [{ name: http, port: 80 }]
    backends:
      - { address: ${L2_LAB.pods.pod1a.v4} }
      - { address: ${L2_LAB.pods.pod2a.v4} }
      - { address: "${L2_LAB.pods.pod1a.v6}" }
      - { address: "${L2_LAB.pods.pod2a.v6}" }`,
    )
    .join('\n');
  const announce = options.announce ?? { count: 3, intervalMs: 250 };
  return `# vipgate standalone config for ${node} in L2 mode (written by the lab)
apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
nodeName: ${node}
vipInterface:
  name: vipgate0
dataplane:
${engineSection(node, options)}  snat: masquerade
  # The cluster nodes themselves are not served (the client shares their subnet here).
  denySources: [${L2_LAB.node1.v4}/32, ${L2_LAB.node2.v4}/32, "${L2_LAB.node1.v6}/128", "${L2_LAB.node2.v6}/128"]
  resyncSeconds: 5
pools:
  - name: lan
    addresses: [${L2_LAB.vips[0]!.v4}-${L2_LAB.vips.at(-1)!.v4}]
  - name: lan6
    addresses: ["${L2_LAB.vips[0]!.v6}-${L2_LAB.vips.at(-1)!.v6}"]
${options.extraPools ?? ''}services:
${services}
${options.extraServices ?? ''}l2:
  advertisements:
    - pools: [lan, lan6]
      interfaces: [lan]
  peers:
    - { name: lb1, addresses: [${L2_LAB.lb1.v4}] }
    - { name: lb2, addresses: [${L2_LAB.lb2.v4}] }
  announce: { count: ${announce.count}, intervalMs: ${announce.intervalMs} }
  failbackHoldDownSeconds: ${options.failbackHoldDownSeconds ?? 10}
  bfd: { minTxMs: 100, minRxMs: 100, multiplier: 3 }
`;
}

/** `vipgate l2 status -o json` as the lab reads it. */
export interface L2StatusJson {
  readonly node: string;
  readonly eligible: boolean;
  readonly peers: readonly { name: string; state: string }[];
  readonly vips: readonly { vip: string; interface: string; owner: string | null; answering: boolean; why: string }[];
  readonly counters: { answers: { arp: number; ndp: number }; announcements: number; ownershipChanges: number; conflicts: number };
}

/** Every L2 VIP of the lab, IPv4 and IPv6. */
export const L2_VIPS: readonly string[] = L2_LAB.vips.flatMap((v) => [v.v4, v.v6]);

/** VIP → owner when lb1's and lb2's views agree on every VIP and the owner answers for it. */
export function agreedOwners(lb1: L2StatusJson, lb2: L2StatusJson): Map<string, L2Node> | undefined {
  const owners = new Map<string, L2Node>();
  for (const vip of L2_VIPS) {
    const a = lb1.vips.find((v) => v.vip === vip);
    const b = lb2.vips.find((v) => v.vip === vip);
    if (a?.owner == null || a.owner !== b?.owner) return undefined;
    if (!(a.owner === 'lb1' ? a : b).answering) return undefined;
    owners.set(vip, a.owner as L2Node);
  }
  return owners;
}

export interface L2WalkthroughLab {
  readonly lab: Lab;
  /** A directory for the lab's files (configs, logs), removed by `down()`. */
  readonly dir: string;
  readonly agents: Readonly<Record<L2Node, LbAgent>>;
  /** The MAC of each member's "lan" interface. */
  macOf(host: string): Promise<string>;
  status(node: L2Node): Promise<L2StatusJson>;
  /** VIP → owner for every L2 VIP, once both nodes agree on each and the owner answers for it; else undefined. */
  agreedOwners(): Promise<Map<string, L2Node> | undefined>;
  /** The client's neighbour entry for `address`: its MAC, or undefined. */
  clientNeighbour(address: string): Promise<string | undefined>;
  down(): Promise<void>;
}

export async function startL2Walkthrough(options: LabOptions & L2ConfigOptions = {}): Promise<L2WalkthroughLab> {
  const lab = await Lab.up(l2Topology(), options);
  const dir = await mkdtemp(join(tmpdir(), `${lab.prefix}-`));
  try {
    await lab.startBackends();
    const agents = {
      lb1: await lbAgent(lab, 'lb1', dir, l2Config('lb1', options)),
      lb2: await lbAgent(lab, 'lb2', dir, l2Config('lb2', options)),
    };
    await Promise.all(L2_NODES.map((node) => agents[node].startAgent(l2AgentArgs(node))));
    const status = async (node: L2Node): Promise<L2StatusJson> => JSON.parse(await agents[node].vipgate(['l2', 'status', '-o', 'json'])) as L2StatusJson;
    return {
      lab,
      dir,
      agents,
      async macOf(host) {
        const links = JSON.parse(await lab.exec(host, ['ip', '-j', 'link', 'show', 'lan'])) as { address: string }[];
        return links[0]!.address;
      },
      status,
      async agreedOwners() {
        const [s1, s2] = await Promise.all([status('lb1'), status('lb2')]);
        return agreedOwners(s1, s2);
      },
      async clientNeighbour(address) {
        const text = await lab.exec('client', ['ip', '-j', 'neigh', 'show', address, 'dev', 'lan']);
        const entries = JSON.parse(text || '[]') as { lladdr?: string; state?: string[] }[];
        return entries[0]?.lladdr;
      },
      async down() {
        await Promise.all(Object.values(agents).map((a) => a.stopAgent()));
        await lab.down();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await lab.down();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
