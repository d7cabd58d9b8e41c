// L2Advertisement objects (and the Nodes they select) as the same L2Config the file's `l2:`
// section gives. See docs/design/017-l2-mode.md and docs/kubernetes.md (L2 mode from
// L2Advertisement).
import { DEFAULT_L2_ANNOUNCE, DEFAULT_L2_BFD, DEFAULT_L2_FAILBACK_HOLD_DOWN_SECONDS, type L2AdvertisementConfig, type L2Config, type L2PeerConfig } from '../config/index.ts';
import type { KubeCustomObject, KubeLbNodeConfig, KubeNode } from '../kube/index.ts';
import { formatIp, tryParseIp } from '../net/index.ts';
import { byName, checkFields, FieldError, int, readSelected, selects, strings, sub, type Spec } from './kube-fields.ts';

/** One object left out, or one of its fields overruled: `L2Advertisement lan` and what is wrong. */
export interface L2Problem {
  readonly object: string;
  readonly message: string;
}

export interface ClusterL2Input {
  readonly nodeName: string;
  /** This node's Node; undefined outside the cluster (then only selector-less objects apply). */
  readonly node: KubeNode | undefined;
  /** Every Node: the peers are among them. */
  readonly nodes: readonly KubeNode[];
  readonly advertisements: readonly KubeCustomObject[];
  /**
   * A Node is an LB node, so a possible peer, when one of these selects it (no agent runs
   * elsewhere: a worker would be a BFD peer that never answers).
   */
  readonly lbNodeConfigs: readonly KubeLbNodeConfig[];
}

const FIELDS = ['pools', 'interfaces', 'announce', 'failbackHoldDownSeconds', 'bfd', 'nodeSelector'];
const POOL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** The kernel's dev_valid_name(): 1–15 bytes, no "/", ":" or white space, not "." or "..". */
const IFNAME = /^[^/:\s]+$/;

/**
 * The timing fields: their ranges, their defaults, and how two selecting advertisements that set
 * one differently are reconciled: the choice that keeps failover fastest and VIP moves fewest,
 * so adding an advertisement never makes an existing one's promise weaker.
 */
interface TimingField {
  readonly group?: 'announce' | 'bfd';
  readonly field: string;
  readonly min: number;
  readonly max: number;
  readonly fallback: number;
  readonly pick: (values: readonly number[]) => number;
  readonly why: string;
}
const most = (v: readonly number[]): number => Math.max(...v);
const least = (v: readonly number[]): number => Math.min(...v);
const TIMING: readonly TimingField[] = [
  { group: 'announce', field: 'count', min: 1, max: 10, fallback: DEFAULT_L2_ANNOUNCE.count, pick: most, why: 'the most' },
  { group: 'announce', field: 'intervalMs', min: 10, max: 10000, fallback: DEFAULT_L2_ANNOUNCE.intervalMs, pick: least, why: 'the shortest' },
  // 0 is "never": any advertisement asking for periodic announcements gets them.
  {
    group: 'announce', field: 'periodicSeconds', min: 0, max: 3600, fallback: DEFAULT_L2_ANNOUNCE.periodicSeconds,
    pick: (v) => (v.some((x) => x > 0) ? least(v.filter((x) => x > 0)) : 0), why: 'the shortest other than 0 (never)',
  },
  // A longer hold-down moves VIPs back later but never twice in a flap.
  { field: 'failbackHoldDownSeconds', min: 0, max: 3600, fallback: DEFAULT_L2_FAILBACK_HOLD_DOWN_SECONDS, pick: most, why: 'the longest' },
  { group: 'bfd', field: 'minTxMs', min: 10, max: 60000, fallback: DEFAULT_L2_BFD.minTxMs, pick: least, why: 'the smallest' },
  { group: 'bfd', field: 'minRxMs', min: 10, max: 60000, fallback: DEFAULT_L2_BFD.minRxMs, pick: least, why: 'the smallest' },
  // RFC 5880 §6.8.1: bfd.DetectMult is nonzero.
  { group: 'bfd', field: 'multiplier', min: 1, max: 255, fallback: DEFAULT_L2_BFD.multiplier, pick: least, why: 'the smallest' },
];
const pathOf = (t: TimingField): string => (t.group === undefined ? t.field : `${t.group}.${t.field}`);

/** One selecting advertisement as read: what it says, and only the timing fields it sets. */
interface ReadAdvertisement {
  readonly name: string;
  readonly spec: Spec;
  readonly advertisement: L2AdvertisementConfig;
  /** By the field's path under spec (`announce.count`); absent: left to the others. */
  readonly timing: ReadonlyMap<string, number>;
}

function readInterfaces(spec: Spec): string[] {
  const allowed = 'a list of 1–16 interface names, each 1–15 bytes without "/", ":" or white space, not "." or ".."';
  const names = strings(spec, 'interfaces', IFNAME, allowed);
  if (names.length === 0) throw new FieldError('spec.interfaces is required: at least one interface to answer on');
  const bad = names.find((n) => Buffer.byteLength(n) > 15 || n === '.' || n === '..');
  if (bad !== undefined || names.length > 16) throw new FieldError(`spec.interfaces is ${JSON.stringify(names)}; allowed: ${allowed}`);
  return [...new Set(names)];
}

function readAdvertisement(name: string, spec: Spec): ReadAdvertisement {
  checkFields(spec, FIELDS, 'L2Advertisement');
  const pools = strings(spec, 'pools', POOL, 'a list of VIPPool names (DNS labels)');
  const interfaces = readInterfaces(spec);
  const timing = new Map<string, number>();
  for (const group of [undefined, 'announce', 'bfd'] as const) {
    const fields = TIMING.filter((t) => t.group === group);
    const at = group === undefined ? 'spec' : `spec.${group}`;
    const values = group === undefined ? spec : sub(spec, group);
    if (values === undefined) continue;
    if (group !== undefined) checkFields(values, fields.map((t) => t.field), `L2Advertisement ${group}`, at);
    for (const t of fields) {
      const value = int(values, t.field, t.min, t.max, undefined, at);
      if (value !== undefined) timing.set(pathOf(t), value);
    }
  }
  return { name, spec, advertisement: { pools: [...new Set(pools)], interfaces }, timing };
}

/** The timing fields over every selecting advertisement; each one overruled is a problem naming the one that won. */
function mergeTiming(read: readonly ReadAdvertisement[], nodeName: string, problems: L2Problem[]): Map<string, number> {
  const merged = new Map<string, number>();
  for (const m of TIMING) {
    const path = pathOf(m);
    const setters = read.filter((r) => r.timing.has(path));
    if (setters.length === 0) {
      merged.set(path, m.fallback);
      continue;
    }
    const chosen = m.pick(setters.map((r) => r.timing.get(path)!));
    merged.set(path, chosen);
    const winner = setters.find((r) => r.timing.get(path) === chosen)!;
    for (const r of setters) {
      const value = r.timing.get(path)!;
      if (value === chosen) continue;
      problems.push({
        object: `L2Advertisement ${r.name}`,
        message: `spec.${path} ${value} differs from ${chosen} in L2Advertisement ${winner.name}, which also selects Node ${nodeName}; ${chosen} (${m.why}) applies on this node`,
      });
    }
  }
  return merged;
}

/** Whether an LBNodeConfig selects the node; a config with a bad selector selects nothing (its own problem, reported to the nodes it concerns). */
function isLbNode(node: KubeNode, configs: readonly KubeLbNodeConfig[]): boolean {
  const labels = node.metadata?.labels ?? {};
  return configs.some((c) => {
    try {
      return selects(c.spec ?? {}, labels);
    } catch (error) {
      if (error instanceof FieldError) return false;
      throw error;
    }
  });
}

/** The other LB nodes one of `read` selects, with their InternalIP addresses. */
function peersOf(input: ClusterL2Input, read: readonly ReadAdvertisement[], problems: L2Problem[]): L2PeerConfig[] {
  const peers: L2PeerConfig[] = [];
  const others = input.nodes.filter((n) => (n.metadata?.name ?? '') !== input.nodeName && (n.metadata?.name ?? '') !== '');
  for (const node of [...others].sort(byName)) {
    const name = node.metadata?.name ?? '';
    const labels = node.metadata?.labels ?? {};
    // The selectors were checked when read: they can't throw here.
    if (!read.some((r) => selects(r.spec, labels)) || !isLbNode(node, input.lbNodeConfigs)) continue;
    const addresses = new Set<string>();
    for (const a of node.status?.addresses ?? []) {
      const ip = a.type === 'InternalIP' ? tryParseIp(a.address) : undefined;
      if (ip !== undefined) addresses.add(formatIp(ip));
    }
    if (addresses.size === 0) {
      problems.push({ object: `Node ${name}`, message: `has no InternalIP address, so Node ${input.nodeName} cannot watch it by BFD; it is not an L2 peer until it has one` });
      continue;
    }
    peers.push({ name, addresses: [...addresses] });
  }
  return peers;
}

/**
 * This node's L2 settings from the cluster's L2Advertisements whose nodeSelector matches its
 * Node (none: every LB node):
 *
 * - advertisements: each selecting object's pools and interfaces, in name order;
 * - peers: every other LB node (a Node an LBNodeConfig selects) that at least one of those
 *   advertisements selects, named by its Node name, with its InternalIP addresses (the agent
 *   runs BFD to the one inside the L2 interface's subnet);
 * - announce, failbackHoldDownSeconds, bfd: from the advertisements that set them (a field
 *   left out leaves it to the others; none setting it: the default). Where they differ, the
 *   most announcements, the shortest intervals, the longest hold-down and the smallest BFD
 *   timers apply, and each overruled object gets a problem naming the one that won.
 *
 * A bad object is left out with a problem naming it and its field; the others apply.
 * Undefined (L2 off) when no advertisement selects the node.
 */
export function l2FromCluster(input: ClusterL2Input): { l2: L2Config | undefined; problems: L2Problem[] } {
  const problems: L2Problem[] = [];
  const labels = input.node?.metadata?.labels ?? {};
  const read = readSelected(input.advertisements, { kind: 'L2Advertisement', noun: 'advertisement' }, labels, readAdvertisement, problems);
  if (read.length === 0) return { l2: undefined, problems };
  const t = mergeTiming(read, input.nodeName, problems);
  const l2: L2Config = {
    advertisements: read.map((r) => r.advertisement),
    peers: peersOf(input, read, problems),
    announce: { count: t.get('announce.count')!, intervalMs: t.get('announce.intervalMs')!, periodicSeconds: t.get('announce.periodicSeconds')! },
    failbackHoldDownSeconds: t.get('failbackHoldDownSeconds')!,
    bfd: { minTxMs: t.get('bfd.minTxMs')!, minRxMs: t.get('bfd.minRxMs')!, multiplier: t.get('bfd.multiplier')! },
  };
  return { l2, problems };
}
