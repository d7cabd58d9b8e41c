// Which VIPs this node answers for, from what it knows now: its peers' liveness (BFD sessions on
// the L2 segment, docs/design/017), how long each has been up, and which nodes may serve each VIP.
// Pure: the agent feeds it the sessions' states and the clock; the responder carries out the result.
import type { IpAddress } from '../net/index.ts';
import { rankNodes } from './ownership.ts';
import type { L2Ownership } from './responder.ts';

export interface L2VipSpec {
  readonly vip: IpAddress;
  /** The interface it is answered on (its subnet holds the VIP; config checks that). */
  readonly interface: string;
  /** The nodes that can serve it (ready backends; local ones with externalTrafficPolicy Local). Omitted: every node. */
  readonly servers?: readonly string[];
}

export interface L2View {
  readonly self: string;
  /** When this node started answering (ms, the same clock as `now`). */
  readonly selfSinceMs: number;
  /** False when this node's own dataplane is broken: it answers for nothing (and tells its peers, AdminDown). */
  readonly selfHealthy: boolean;
  /** Each configured peer: since when its session has been Up, or undefined while it is down. */
  readonly peers: ReadonlyMap<string, number | undefined>;
  readonly nowMs: number;
  /**
   * A node that has been up for less than this, seen from here (this node itself too), only fills
   * a gap: it owns a VIP when no settled node can serve it. So a returning node takes its VIPs back
   * once, after the hold-down, instead of the moment it appears; nodes that start together (none
   * settled) share the VIPs at once.
   */
  readonly holdDownMs: number;
}

export interface VipOwner {
  readonly vip: IpAddress;
  readonly interface: string;
  /** undefined: no node is eligible (nobody answers). */
  readonly owner: string | undefined;
  /** The eligible nodes, best first, as this node sees them: settled ones, then those in hold-down. */
  readonly ranked: readonly string[];
}

/**
 * The live nodes as this node sees them, split by whether they are in their hold-down: up for less
 * than it, and up at least the hold-down later than the longest-running live node. The second
 * half keeps nodes that start a little apart (within a hold-down) from moving VIPs as each one's
 * hold-down ends: they count as starting together. A node that returns to nodes that have been up
 * for longer waits out its hold-down.
 */
export function liveNodes(view: L2View): { settled: string[]; recent: string[] } {
  const live: [string, number][] = [];
  if (view.selfHealthy) live.push([view.self, view.selfSinceMs]);
  for (const [name, since] of view.peers) if (since !== undefined) live.push([name, since]);
  const earliest = Math.min(...live.map(([, since]) => since));
  const settled: string[] = [];
  const recent: string[] = [];
  for (const [name, since] of live) (view.nowMs - since < view.holdDownMs && since - earliest >= view.holdDownMs ? recent : settled).push(name);
  return { settled, recent };
}

/** The owner of every VIP as this node sees it. */
export function owners(view: L2View, vips: readonly L2VipSpec[]): VipOwner[] {
  const { settled, recent } = liveNodes(view);
  return vips.map((spec) => {
    const serves = (n: string): boolean => spec.servers === undefined || spec.servers.includes(n);
    const ranked = [...rankNodes(spec.vip, settled.filter(serves)), ...rankNodes(spec.vip, recent.filter(serves))];
    return { vip: spec.vip, interface: spec.interface, owner: ranked[0], ranked };
  });
}

/** What the responder should answer for: the VIPs this node owns, per interface. */
export function ownershipHere(view: L2View, vips: readonly L2VipSpec[]): L2Ownership {
  const byInterface = new Map<string, IpAddress[]>();
  for (const { vip, interface: ifname, owner } of owners(view, vips)) {
    if (!byInterface.has(ifname)) byInterface.set(ifname, []);
    if (owner === view.self) byInterface.get(ifname)!.push(vip);
  }
  return { interfaces: [...byInterface].map(([name, owned]) => ({ name, vips: owned })) };
}
