// `vipgate explain --kubeconfig`: why a VIP is (not) reachable, from the cluster's objects alone
// (docs/design/018-explain.md, Kubernetes). Pure: the CLI reads a snapshot (Services, VIPPools,
// Nodes, LBNodeConfigs, LBNodeStatuses, the Service's Events), this walks it. The per-node
// sentences come from each node's own walk, published in its LBNodeStatus (docs/design/019).
import { selectorMatches, selectorProblem } from '../ipam/index.ts';
import type { KubeEvent, KubeLbNodeConfig, KubeLbNodeStatus, KubeNode, KubeService, KubeVipPool } from '../kube/index.ts';
import { EXTERNAL_IPS_ALLOWED_CONDITION, ingressAddresses, isOurLoadBalancer, keyOf, LOAD_BALANCER_CLASS, requestedAddresses, VIP_ALLOCATED_CONDITION, type ClassPolicy } from '../kube-model/index.ts';
import type { ChainLink, ExplainTarget } from '../model/index.ts';
import { canonicalIp, parseRange, rangeContains, tryParseIp } from '../net/index.ts';
import { nodeView, STALE_AFTER_REFRESHES, type NodeView } from './service-conditions.ts';

/** The cluster-wide links, then per LB node its own. */
export const CLUSTER_LINKS = ['service', 'policy', 'allocation', 'nodes'] as const;
export const NODE_LINKS = ['node', 'report', 'served', 'announcement'] as const;
export type ClusterLinkName = (typeof CLUSTER_LINKS)[number] | (typeof NODE_LINKS)[number];

export type ClusterLink = ChainLink<ClusterLinkName>;

/** What the target names, as `parseTarget` (model/explain-chain.ts) reads it. */
export type ClusterTarget = ExplainTarget;

/** The cluster's objects, read at one moment. */
export interface ClusterSnapshot {
  readonly now: Date;
  readonly policy: ClassPolicy;
  readonly services: readonly KubeService[];
  readonly pools: readonly KubeVipPool[];
  readonly nodes: readonly KubeNode[];
  readonly configs: readonly KubeLbNodeConfig[];
  readonly reports: readonly KubeLbNodeStatus[];
  /** The Events whose involvedObject is the target's Service (empty when there is none). */
  readonly events: readonly KubeEvent[];
}

export interface NodeChain {
  readonly node: string;
  /** No link broken, and the node's fresh report says it is served: this node serves the target. */
  readonly served: boolean;
  readonly links: readonly ClusterLink[];
}

/** `vipgate explain --kubeconfig -o json`. */
export interface ClusterExplanation {
  readonly target: string;
  readonly service: string | null;
  readonly vips: readonly string[];
  /** No cluster link broken and some LB node serves it. */
  readonly served: boolean;
  readonly servedBy: readonly string[];
  readonly cluster: readonly ClusterLink[];
  readonly nodes: readonly NodeChain[];
  /** The Service's vipgate.io conditions, as the controller last wrote them. */
  readonly conditions: readonly { readonly type: string; readonly status: string; readonly reason: string; readonly message: string }[];
  /** The Service's Events from vipgate, newest first (at most 10). */
  readonly events: readonly { readonly type: string; readonly reason: string; readonly message: string; readonly at: string; readonly from: string }[];
}

const ok = (link: ClusterLinkName, says: string): ClusterLink => ({ link, state: 'ok', says });
const unknown = (link: ClusterLinkName, says: string): ClusterLink => ({ link, state: 'unknown', says });
const broken = (link: ClusterLinkName, says: string, fix: string): ClusterLink => ({ link, state: 'broken', says, fix });

const same = (a: string, b: string): boolean => tryParseIp(a) !== undefined && tryParseIp(b) !== undefined && canonicalIp(a) === canonicalIp(b);
const conditionOf = (svc: KubeService, type: string) => svc.status?.conditions?.find((c) => c.type === type);

/** Every address the Service stands for: its ingress, its external IPs, what it asks for. */
function addressesOf(svc: KubeService): string[] {
  return [...new Set([...ingressAddresses(svc), ...(svc.spec?.externalIPs ?? []), ...requestedAddresses(svc)])];
}

export function findService(target: ClusterTarget, services: readonly KubeService[]): KubeService | undefined {
  if (target.kind === 'service') return services.find((s) => keyOf(s) === target.key);
  // The holder (ingress) first: a second Service merely asking for a taken address does not get it.
  return services.find((s) => ingressAddresses(s).some((a) => same(a, target.address))) ?? services.find((s) => addressesOf(s).some((a) => same(a, target.address)));
}

function poolOf(pools: readonly KubeVipPool[], address: string): string | undefined {
  const ip = tryParseIp(address);
  if (ip === undefined) return undefined;
  const inPool = (p: KubeVipPool): boolean => {
    const raw = p.spec?.['addresses'];
    return (Array.isArray(raw) ? raw : []).some((a) => {
      try {
        return typeof a === 'string' && rangeContains(parseRange(a), ip);
      } catch {
        return false;
      }
    });
  };
  return pools.find(inPool)?.metadata?.name;
}

function serviceLink(target: ClusterTarget, svc: KubeService | undefined, snap: ClusterSnapshot): ClusterLink {
  if (svc === undefined) {
    if (target.kind === 'service') return broken('service', `there is no Service ${target.key}`, 'check the namespace and name (kubectl get services -A)');
    const pool = poolOf(snap.pools, target.address);
    return broken('service', `no Service holds or asks for ${target.address}${pool === undefined ? ', and it is in no VIPPool' : ` (it is in VIPPool ${pool})`}`,
      `name ${target.address} in a Service: the vipgate.io/ips annotation of a LoadBalancer, or spec.externalIPs`);
  }
  const key = keyOf(svc);
  const type = svc.spec?.type ?? 'ClusterIP';
  const ports = (svc.spec?.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(', ') || '(none)';
  const external = svc.spec?.externalIPs ?? [];
  const ours = isOurLoadBalancer(svc, snap.policy);
  if (!ours && external.length === 0) {
    if (type !== 'LoadBalancer') return broken('service', `${key} is a ${type} Service without externalIPs: vipgate gives it no VIP`, 'make it type: LoadBalancer (with spec.loadBalancerClass: vipgate.io/lb), or name the address in spec.externalIPs');
    const cls = svc.spec?.loadBalancerClass;
    return broken('service', `${key} is a LoadBalancer of ${cls === undefined ? 'no class, and vipgate is not the default load balancer' : `class ${cls}, not ${LOAD_BALANCER_CLASS}`}: another load balancer is asked to serve it`,
      cls === undefined
        ? `recreate it with spec.loadBalancerClass: ${LOAD_BALANCER_CLASS} (the field is immutable), or run the controller and agents with --default-load-balancer-class`
        : `recreate it with spec.loadBalancerClass: ${LOAD_BALANCER_CLASS} (the field is immutable)`);
  }
  if (target.kind === 'vip' && target.port !== undefined && !(svc.spec?.ports ?? []).some((p) => p.port === target.port)) {
    return broken('service', `${key} has no port ${target.port} (its ports: ${ports})`, `add port ${target.port} to the Service, or ask for one of its ports`);
  }
  const what = ours ? `LoadBalancer of class ${svc.spec?.loadBalancerClass ?? '(default)'}` : `${type} with externalIPs ${external.join(', ')}`;
  return ok('service', `${key}: ${what}, ports ${ports}`);
}

function policyLink(svc: KubeService): ClusterLink {
  const external = svc.spec?.externalIPs ?? [];
  if (external.length === 0) return ok('policy', 'no externalIPs to allow');
  const c = conditionOf(svc, EXTERNAL_IPS_ALLOWED_CONDITION);
  if (c === undefined) return unknown('policy', `externalIPs ${external.join(', ')}: the controller has not judged them yet (is it running?)`);
  if (c.status !== 'True') {
    return broken('policy', `${EXTERNAL_IPS_ALLOWED_CONDITION}=${c.status} ${c.reason}: ${c.message}`,
      'name only addresses of a VIPPool with allowExternalIPs: true whose namespaces include the Service\'s, or allow it on the pool');
  }
  return ok('policy', `externalIPs ${external.join(', ')} allowed (${c.message})`);
}

function allocationLink(svc: KubeService, snap: ClusterSnapshot): ClusterLink {
  const inPool = (vips: readonly string[]): string => vips.map((v) => `${v} (${poolOf(snap.pools, v) === undefined ? 'in no VIPPool' : `VIPPool ${poolOf(snap.pools, v)!}`})`).join(', ');
  if (!isOurLoadBalancer(svc, snap.policy)) {
    const external = svc.spec?.externalIPs ?? [];
    return external.length === 0 ? unknown('allocation', 'nothing to allocate') : ok('allocation', `externalIPs ${inPool(external)}`);
  }
  const c = conditionOf(svc, VIP_ALLOCATED_CONDITION);
  const vips = ingressAddresses(svc);
  if (c !== undefined && c.status !== 'True') {
    const warning = snap.events.filter((e) => e.type === 'Warning' && e.reason === 'AllocationFailed').at(-1);
    const more = warning === undefined || warning.message === c.message ? '' : ` (last Event: ${warning.message ?? ''})`;
    return broken('allocation', `${VIP_ALLOCATED_CONDITION}=${c.status} ${c.reason}: ${c.message}${more}`,
      'give the Service a pool it may use: add addresses to a VIPPool (or free some), fix the pool it names (vipgate.io/pool), or ask for an address of a pool its namespace and labels may use');
  }
  if (vips.length === 0) {
    return broken('allocation', 'the Service has no VIP in status.loadBalancer and no VIPAllocated condition: the controller has not seen it',
      'check that the controller runs and leads (kubectl -n vipgate-system get pods,leases; its log)');
  }
  return ok('allocation', inPool(vips));
}

/** The LB nodes: each Node selected by an LBNodeConfig (several configs selecting one node is a broken node). */
function lbNodes(snap: ClusterSnapshot): { node: KubeNode; configs: KubeLbNodeConfig[] }[] {
  const out: { node: KubeNode; configs: KubeLbNodeConfig[] }[] = [];
  for (const node of snap.nodes) {
    const labels = node.metadata?.labels ?? {};
    const configs = snap.configs.filter((c) => {
      const selector = c.spec?.['nodeSelector'];
      if (selector === undefined || selector === null) return true;
      return selectorProblem(selector) === undefined && selectorMatches(selector, labels);
    });
    if (configs.length > 0) out.push({ node, configs });
  }
  return out.sort((a, b) => ((a.node.metadata?.name ?? '') < (b.node.metadata?.name ?? '') ? -1 : 1));
}

function nodeLink(name: string, node: KubeNode, configs: readonly KubeLbNodeConfig[]): ClusterLink {
  const names = configs.map((c) => c.metadata?.name ?? '').sort();
  if (names.length > 1) return broken('node', `${name} is selected by ${names.length} LBNodeConfigs (${names.join(', ')}): its agent takes no settings`, 'narrow their spec.nodeSelector so exactly one selects it');
  const reasons = [
    ...(node.spec?.unschedulable === true ? [`Node ${name} is cordoned`] : []),
    ...(configs[0]?.spec?.['drain'] === true ? [`LBNodeConfig ${names[0]!} spec.drain`] : []),
  ];
  if (reasons.length > 0) {
    return broken('node', `${name} is drained (${reasons.join(', ')}): its routes are withdrawn`,
      `if ${name} should serve again: ${node.spec?.unschedulable === true ? `kubectl uncordon ${name}` : `clear spec.drain in LBNodeConfig ${names[0]!}`}`);
  }
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const note = ready !== undefined && ready.status !== 'True' ? ` (Node Ready=${ready.status}: its agent may be down)` : '';
  return ok('node', `${name} is an LB node (LBNodeConfig ${names[0]!}), in service${note}`);
}

/** Since when the agents could have programmed the Service (as the controller's conditions count it). */
function coveredFrom(svc: KubeService): number {
  const allocated = conditionOf(svc, VIP_ALLOCATED_CONDITION);
  const at = allocated?.status === 'True' ? allocated.lastTransitionTime : svc.metadata?.creationTimestamp;
  return at === undefined ? 0 : new Date(at).getTime();
}

const ago = (now: Date, at: number): string => `${Math.max(0, Math.round((now.getTime() - at) / 1000))} s ago`;

function reportLink(name: string, view: NodeView | undefined, from: number, now: Date): ClusterLink {
  if (view === undefined) {
    return broken('report', `no LBNodeStatus ${name}: its agent has never reported (or cannot write it)`,
      `check the agent on ${name}: kubectl -n vipgate-system get pods -o wide --field-selector spec.nodeName=${name}, and its log`);
  }
  const staleAfter = STALE_AFTER_REFRESHES * view.refreshSeconds;
  if (now.getTime() - view.observedAt > staleAfter * 1000) {
    return broken('report', `LBNodeStatus ${name} was observed ${ago(now, view.observedAt)} (stale after ${staleAfter} s): its agent stopped reporting`,
      `check the agent on ${name} (kubectl -n vipgate-system get pods -o wide; its log)`);
  }
  if (view.observedAt < from) return unknown('report', `LBNodeStatus ${name} was observed ${ago(now, view.observedAt)}, before the Service got its VIPs: not covered yet`);
  return ok('report', `LBNodeStatus ${name} observed ${ago(now, view.observedAt)}`);
}

/** What to do, by the reason an LB node gives (api/node-report.ts). */
const FIX: Readonly<Record<string, string>> = {
  LeftOut: 'fix the Service as the message says; the agent serves it once its source accepts it',
  ExternalIPRejected: 'see policy: name only addresses a VIPPool allows in externalIPs',
  AllocationFailed: 'see allocation: give the Service a pool it may use',
  Drained: 'kubectl uncordon the node, or clear spec.drain in its LBNodeConfig, if it should serve again',
  NotInTable: 'check the Service\'s ports and that no other Service holds the same VIP and port',
  NoReadyBackend: 'make a Pod behind the Service ready (its readiness probe; kubectl get endpointslices -l kubernetes.io/service-name=<name>)',
  KernelDiffers: 'the agent repairs it at its next read-back (dataplane.resyncSeconds); if it comes back, something else edits the kernel (another nft ruleset, a script): find it',
  DataplaneFailed: 'see the agent\'s log on the node; it retries every few seconds and keeps the previous rules meanwhile',
  NoBGPSession: 'look at the router side (e.g. birdc show protocols all): is the session enabled, do the ASNs, addresses and password match the BGPPeer, does TCP 179 get through?',
  NotAdvertised: 'check the BGPAdvertisements (which pools and peers each VIP goes to) and the BGPPeers\' families',
  NoL2Owner: 'vipgate l2 status on the L2 nodes: the owner\'s BFD sessions, and the agent log for a conflicting MAC',
  NoL2Interface: 'add the interface whose subnet holds the VIP to the L2Advertisement\'s interfaces, or take the VIP from a pool in that subnet',
};

function problemLink(link: 'served' | 'announcement', which: 'Served' | 'Announced', key: string, view: NodeView | undefined, since: ReadonlyMap<string, string>): ClusterLink {
  if (view === undefined) return unknown(link, 'no report');
  const p = view.problems.get(`${key}|${which}`);
  if (p !== undefined) {
    const at = since.get(`${key}|${which}`);
    return broken(link, `${p.reason}: ${p.message}${at === undefined ? '' : ` (since ${at})`}`, FIX[p.reason] ?? 'run vipgate explain on the node for the whole chain');
  }
  if (view.truncated) return unknown(link, 'the node\'s report is cut (more problems than it lists): this Service may be one of them');
  if (link === 'announcement' && !view.announcementChecked) return unknown(link, 'no routing protocol on this node: clients need a static route to the VIP, which it cannot check');
  return ok(link, link === 'served' ? 'read back from the kernel as the table says' : 'told to a router (BGP) or answered on the segment (L2)');
}

function sinceOf(report: KubeLbNodeStatus): Map<string, string> {
  const out = new Map<string, string>();
  const raw = report.status?.['problems'];
  for (const p of Array.isArray(raw) ? (raw as unknown[]) : []) {
    const e = (p ?? {}) as Record<string, unknown>;
    if (typeof e['service'] === 'string' && typeof e['condition'] === 'string' && typeof e['since'] === 'string') out.set(`${e['service']}|${e['condition']}`, e['since']);
  }
  return out;
}

/** When an Event last happened (ISO 8601; empty when it carries no time). */
function at(e: KubeEvent): string {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp;
  return t === undefined ? '' : new Date(t).toISOString();
}

/** The L2 owner changes this node made for the Service (agents record them as Events on it). */
function l2Note(name: string, events: readonly KubeEvent[]): string {
  // The agent that took over records it: "lb1 now answers ARP/NDP for … (was lb2): …".
  const mine = events.filter((e) => e.reason === 'L2OwnerChanged' && (e.source?.host === name || (e.message ?? '').startsWith(`${name} `)))
    .sort((a, b) => (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : 0)).at(-1);
  return mine === undefined ? '' : `; last L2 owner change: ${mine.message ?? ''}`;
}

function nodeChain(svc: KubeService, lb: { node: KubeNode; configs: KubeLbNodeConfig[] }, snap: ClusterSnapshot): NodeChain {
  const name = lb.node.metadata?.name ?? '';
  const key = keyOf(svc);
  const report = snap.reports.find((r) => r.metadata?.name === name);
  const view = report === undefined ? undefined : nodeView(report);
  const since = report === undefined ? new Map<string, string>() : sinceOf(report);
  const reportState = reportLink(name, view, coveredFrom(svc), snap.now);
  const usable = reportState.state === 'ok' ? view : undefined;
  const announce = problemLink('announcement', 'Announced', key, usable, since);
  const links = [
    nodeLink(name, lb.node, lb.configs),
    reportState,
    reportState.state === 'ok' ? problemLink('served', 'Served', key, view, since) : unknown('served', 'no fresh report covers it'),
    reportState.state === 'ok' ? { ...announce, says: `${announce.says}${l2Note(name, snap.events)}` } : unknown('announcement', 'no fresh report covers it'),
  ];
  // Served only on the node's word: a fresh report covering the Service that does not list it (an unknown is no answer).
  return { node: name, served: links.every((l) => l.state !== 'broken') && links[1]!.state === 'ok' && links[2]!.state === 'ok', links };
}

function eventsOf(events: readonly KubeEvent[]): ClusterExplanation['events'] {
  return events
    .filter((e) => (e.source?.component ?? '').startsWith('vipgate') || /^(VIP|L2|AllocationFailed|ExternalIPRejected)/.test(e.reason ?? ''))
    .map((e) => ({ type: e.type ?? 'Normal', reason: e.reason ?? '', message: e.message ?? '', at: at(e), from: e.source?.component ?? '' }))
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
    .slice(0, 10);
}

/** Walks the chain for `target` over the cluster's objects. Links after the first broken one are still shown. */
export function explainCluster(target: ClusterTarget, snap: ClusterSnapshot): ClusterExplanation {
  const svc = findService(target, snap.services);
  const cluster: ClusterLink[] = [serviceLink(target, svc, snap)];
  let nodes: NodeChain[] = [];
  if (svc !== undefined && cluster[0]!.state !== 'broken') {
    cluster.push(policyLink(svc), allocationLink(svc, snap));
    const lbs = lbNodes(snap);
    if (lbs.length === 0) {
      cluster.push(broken('nodes', `no Node is selected by an LBNodeConfig (${snap.configs.length} LBNodeConfigs, ${snap.nodes.length} Nodes)`, 'label the LB nodes to match an LBNodeConfig\'s spec.nodeSelector (kubectl label node <name> node-role.kubernetes.io/lb=)'));
    } else {
      cluster.push(ok('nodes', `LB nodes: ${lbs.map((l) => l.node.metadata?.name ?? '').join(', ')}`));
      nodes = lbs.map((lb) => nodeChain(svc, lb, snap));
    }
  }
  const servedBy = nodes.filter((n) => n.served).map((n) => n.node);
  return {
    target: target.text,
    service: svc === undefined ? null : keyOf(svc),
    vips: svc === undefined ? [] : addressesOf(svc),
    served: cluster.every((l) => l.state !== 'broken') && servedBy.length > 0,
    servedBy,
    cluster,
    nodes,
    conditions: (svc?.status?.conditions ?? []).filter((c) => c.type.startsWith('vipgate.io/')).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
    events: eventsOf(snap.events),
  };
}
