// The walk-through with BGP instead of the static route: two LB nodes (lb1, lb2) run the agent
// with the same services and pools, each announcing the VIPs to BIRD in the router, which
// installs them with two next hops (ECMP). No static VIP route exists anywhere. Shared by the
// demo's BGP part, the BGP integration tests and the benchmarks.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_ASN, demoBirdNeighbors, parseBirdProtocols, parseBirdRoutes, routerBirdConfig, startBird, type Bird, type RouterBirdOptions } from './bird.ts';
import { Lab, type LabOptions } from './lab.ts';
import { failoverGap, type FailoverGap, type FlowSample } from './probe.ts';
import { demoConfig, lbAgent, type DemoConfigOptions, type LbAgent } from './scenario.ts';
import { DEMO, demoTopology } from './topologies.ts';

export type LbName = 'lb1' | 'lb2';

export interface BgpSectionOptions {
  /** Hold time each LB node offers; 3 s (the minimum) for quick failover in the lab. */
  readonly holdTimeSeconds?: number;
  /** RFC 4724 restart time; 0 turns graceful restart off. Default 60. */
  readonly gracefulRestartSeconds?: number;
  /** TCP MD5 key for the node's sessions (BIRD must have the same for it). */
  readonly password?: string;
  /** BFD with the router on both sessions (the router must run it too: `routerBfd`). */
  readonly bfd?: { readonly minTxMs: number; readonly minRxMs: number; readonly multiplier: number };
  /** The node's `bgp.advertisements` (docs/config.md); absent: every VIP to both sessions. */
  readonly advertisements?: readonly Readonly<Record<string, unknown>>[];
}

const ADDRESSES = { lb1: DEMO.lbNode, lb2: DEMO.lbNode2 } as const;

/**
 * The `bgp:` section of an LB node: one session per family with the router, IPv4 VIPs over the
 * IPv4 one and IPv6 VIPs over the IPv6 one (MP-BGP), so each family's next hop is the node's own
 * address of that family — the config has no per-peer next hop override.
 */
export function demoBgpSection(node: LbName, options: BgpSectionOptions = {}): string {
  const hold = options.holdTimeSeconds ?? 3;
  const password = options.password === undefined ? '' : `, password: ${JSON.stringify(options.password)}`;
  const b = options.bfd;
  const bfd = b === undefined ? '' : `, bfd: { minTxMs: ${b.minTxMs}, minRxMs: ${b.minRxMs}, multiplier: ${b.multiplier} }`;
  return `bgp:
  routerId: ${ADDRESSES[node].v4}
  localASN: ${DEMO_ASN.lbNodes}
  gracefulRestartSeconds: ${options.gracefulRestartSeconds ?? 60}
  peers:
    - { address: ${DEMO.router.datacenter.v4}, asn: ${DEMO_ASN.router}, holdTime: ${hold}, families: [ipv4]${password}${bfd} }
    - { address: "${DEMO.router.datacenter.v6}", asn: ${DEMO_ASN.router}, holdTime: ${hold}, families: [ipv6]${password}${bfd} }
${options.advertisements === undefined ? '' : `  advertisements:\n${options.advertisements.map((a) => `    - ${JSON.stringify(a)}\n`).join('')}`}`;
}

/** The agent config of `node` in the BGP walk-through: the demo's services, plus its `bgp:` section. */
export function bgpDemoConfig(node: LbName, options: DemoConfigOptions & BgpSectionOptions = {}): string {
  return demoConfig({ ...options, nodeName: node, bgp: demoBgpSection(node, options) });
}

/** `ip route` output → prefix ("10.200.0.5/32") → next hops; ECMP routes list each `nexthop via`. */
export function parseKernelRoutes(text: string, family: 4 | 6): Map<string, string[]> {
  const routes = new Map<string, string[]>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (!/^\s/.test(line)) {
      const [destination = ''] = line.split(/\s+/);
      current = destination === 'default' ? destination : destination.includes('/') ? destination : `${destination}/${family === 4 ? 32 : 128}`;
      const via = /\svia (?:inet6 )?(\S+)/.exec(line);
      routes.set(current, via === null ? [] : [via[1]!]);
      continue;
    }
    const hop = /^\s+nexthop via (?:inet6 )?(\S+)/.exec(line);
    if (hop !== null && current !== undefined) routes.get(current)?.push(hop[1]!);
  }
  return routes;
}

export interface BgpWalkthroughLab {
  readonly lab: Lab;
  readonly dir: string;
  readonly bird: Bird;
  readonly lb1: LbAgent;
  readonly lb2: LbAgent;
  /** Routes BIRD installed in the router's kernel (`proto bird`): prefix → next hops. */
  routerKernelRoutes(family: 4 | 6): Promise<Map<string, string[]>>;
  /** `birdc show route`: prefix → next hops BIRD has for it (one per LB node announcing it). */
  birdRoutes(): Promise<Map<string, string[]>>;
  /** `birdc show protocols`: protocol ("lb1v4") → BGP state. */
  birdProtocols(): Promise<Map<string, string>>;
  down(): Promise<void>;
}

export interface BgpWalkthroughOptions extends LabOptions {
  /** The agent config per node; default `bgpDemoConfig(node, bgpOptions)`. */
  readonly config?: (node: LbName) => string;
  readonly bgpOptions?: BgpSectionOptions;
  /** BIRD requires this TCP MD5 key from lb1 (and the default config gives it to lb1). */
  readonly lb1Password?: string;
  /** Start the agents (default true); the demo starts them itself. */
  readonly startAgents?: boolean;
  /** BIRD runs BFD with every LB node at these timers (default: no BFD). */
  readonly routerBfd?: RouterBirdOptions['bfd'];
  /** BIRD gives routes with GRACEFUL_SHUTDOWN (65535:0) LOCAL_PREF 0 (default: it ignores the community). */
  readonly routerGracefulShutdown?: boolean;
}

/** The BGP walk-through's view over parts started elsewhere (the demo builds them step by step). */
export function bgpWalkthroughOf(parts: Pick<BgpWalkthroughLab, 'lab' | 'dir' | 'bird' | 'lb1' | 'lb2'>, down: () => Promise<void>): BgpWalkthroughLab {
  const { lab, bird } = parts;
  return {
    ...parts,
    routerKernelRoutes: async (family) => parseKernelRoutes(await lab.exec('router', ['ip', `-${family}`, 'route', 'show', 'proto', 'bird']), family),
    birdRoutes: async () => parseBirdRoutes(await bird.birdc(['show', 'route'])),
    birdProtocols: async () => parseBirdProtocols(await bird.birdc(['show', 'protocols'])),
    down,
  };
}

/** Builds the two-LB lab with no static VIP route, starts BIRD in the router, the pods and both agents. */
export async function startBgpWalkthrough(options: BgpWalkthroughOptions = {}): Promise<BgpWalkthroughLab> {
  const lab = await Lab.up(demoTopology({ lbNodes: 2, staticVipRoute: false }), options);
  const dir = await mkdtemp(join(tmpdir(), `${lab.prefix}-`));
  try {
    const password = options.lb1Password;
    const configFor =
      options.config ??
      ((node: LbName) => bgpDemoConfig(node, { ...options.bgpOptions, ...(node === 'lb1' && password !== undefined ? { password } : {}) }));
    const [bird] = await Promise.all([startBird(lab, 'router', demoRouterBirdConfig(password, 2, options.routerBfd, options.routerGracefulShutdown), dir), lab.startBackends()]);
    const lb1 = await lbAgent(lab, 'lb1', dir, configFor('lb1'));
    const lb2 = await lbAgent(lab, 'lb2', dir, configFor('lb2'));
    const self = bgpWalkthroughOf({ lab, dir, bird, lb1, lb2 }, async () => {
      await lab.down();
      await rm(dir, { recursive: true, force: true });
    });
    if (options.startAgents ?? true) await Promise.all([lb1.startAgent(), lb2.startAgent()]);
    return self;
  } catch (error) {
    await lab.down();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** BIRD's config for the demo router: AS 65001, both LB nodes on both families, hold time 3 s. */
export function demoRouterBirdConfig(lb1Password?: string, lbNodes: 1 | 2 = 2, bfd?: RouterBirdOptions['bfd'], gracefulShutdown = false): string {
  return routerBirdConfig({
    ...(bfd === undefined ? {} : { bfd }),
    gracefulShutdown,
    routerId: DEMO.router.datacenter.v4,
    localAsn: DEMO_ASN.router,
    holdTimeSeconds: 3,
    neighbors: demoBirdNeighbors({ lbNodes, ...(lb1Password === undefined ? {} : { lb1Password }) }),
  });
}

/** The router's bridge port towards an LB node (members of "dc": router, lb1, lb2, …). */
export function routerPortTowards(node: LbName): string {
  return node === 'lb1' ? 'dc-1' : 'dc-2';
}

export interface CableFailover {
  /** Requests during the whole measurement, in start order. */
  readonly samples: readonly FlowSample[];
  /** When the cable was pulled (ms since the epoch). */
  readonly cutAt: number;
  /** From the cut until every request went through the other node. */
  readonly gap: FailoverGap;
  /** From the cut until the router's kernel route for the probed VIP had lost the node. */
  readonly routeGoneMs: number | undefined;
}

/**
 * `node` drops off the network: its port on the router's bridge goes down (the cable comes out;
 * the node itself, its agent and rules stay as they were, unreachable). A request stream to `url`
 * runs across the cut; the result says how long until every request went through `survivor`.
 * The port is back up when this returns.
 */
export async function measureCableFailover(
  w: BgpWalkthroughLab,
  options: { node: LbName; url: string; prefix: string; holdSeconds: number; concurrency?: number },
): Promise<CableFailover> {
  const survivor = options.node === 'lb1' ? ADDRESSES.lb2 : ADDRESSES.lb1;
  const lost = ADDRESSES[options.node];
  const durationMs = (options.holdSeconds + 4) * 1000;
  const probe = w.lab.flowProbe('client', options.url, { durationMs, concurrency: options.concurrency ?? 4, timeoutMs: 300 });
  await new Promise((r) => setTimeout(r, 800));
  const port = routerPortTowards(options.node);
  const cutAt = Date.now();
  let routeGoneMs: number | undefined;
  let samples: FlowSample[];
  try {
    await w.lab.exec('router', ['ip', 'link', 'set', port, 'down']);
    const family = options.prefix.includes(':') ? 6 : 4;
    while (Date.now() - cutAt < durationMs - 800) {
      const hops = (await w.routerKernelRoutes(family)).get(options.prefix) ?? [];
      if (!hops.includes(family === 4 ? lost.v4 : lost.v6)) {
        routeGoneMs = Date.now() - cutAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    // The stream runs to its end either way; the port comes back up whatever happened.
    samples = await probe.catch(() => []);
    await w.lab.exec('router', ['ip', 'link', 'set', port, 'up']);
  }
  return { samples, cutAt, routeGoneMs, gap: failoverGap(samples, cutAt, (s) => s.ok && (s.via === survivor.v4 || s.via === survivor.v6)) };
}
