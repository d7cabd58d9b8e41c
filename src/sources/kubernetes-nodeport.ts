// nodeIP:nodePort backends: for LB nodes that cannot reach pod IPs (an LB outside the cluster,
// or a pod network not routed to the LB). See docs/design/007-kubernetes-nodeport.md.
import type { KubeEndpointSlice, KubeNode, KubeService } from '../kube/index.ts';
import type { Backend } from '../model/index.ts';
import { formatIp, tryParseIp } from '../net/index.ts';

/** Nodes carrying this label are LB nodes: they run the agent, not the Services' node ports. */
export const LB_NODE_ROLE_LABEL = 'node-role.kubernetes.io/lb';
/** Upstream's label for nodes that cloud load balancers leave out (KEP-1143); honoured the same way. */
export const EXCLUDE_FROM_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

/** A node that may take node-port traffic: its name and canonical InternalIPs. */
export interface NodePortTarget {
  readonly name: string;
  readonly addresses: readonly string[];
}

/** Why a node is not a node-port backend, or undefined when it is one. */
export function nodeExclusion(node: KubeNode, selfNodeName: string | undefined): string | undefined {
  const name = node.metadata?.name ?? '';
  const labels = node.metadata?.labels ?? {};
  if (selfNodeName !== undefined && name === selfNodeName) return 'this LB node itself';
  if (LB_NODE_ROLE_LABEL in labels) return `an LB node (label ${LB_NODE_ROLE_LABEL})`;
  if (EXCLUDE_FROM_LB_LABEL in labels) return `labelled ${EXCLUDE_FROM_LB_LABEL}`;
  if (node.metadata?.deletionTimestamp !== undefined) return 'being deleted';
  if (node.spec?.unschedulable === true) return 'unschedulable (cordoned)';
  // No Ready condition at all (a node that never reported) counts as not ready, as kubectl shows it.
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') return `not Ready (${ready?.status ?? 'no Ready condition'})`;
  return undefined;
}

/**
 * The nodes that take node-port traffic, sorted by name: Ready, schedulable, not being deleted,
 * not LB nodes, with at least one InternalIP. Computed once per input, not per Service.
 */
export function nodePortTargets(nodes: readonly KubeNode[], selfNodeName: string | undefined): NodePortTarget[] {
  const out: NodePortTarget[] = [];
  for (const node of nodes) {
    if (nodeExclusion(node, selfNodeName) !== undefined) continue;
    const addresses = new Set<string>();
    for (const a of node.status?.addresses ?? []) {
      if (a.type !== 'InternalIP') continue;
      const ip = tryParseIp(a.address);
      if (ip !== undefined) addresses.add(formatIp(ip));
    }
    if (addresses.size > 0) out.push({ name: node.metadata?.name ?? '', addresses: [...addresses] });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Per node with a serving endpoint of the Service for one port (EndpointSlice `nodeName`): the
 * distinct addresses of its ready endpoints (empty: its endpoints only drain).
 */
function endpointNodes(
  port: { name?: string; protocol?: string },
  slices: readonly KubeEndpointSlice[],
  stateOf: (e: KubeEndpointSlice['endpoints'][number]) => Backend['state'] | undefined,
): Map<string, Set<string>> {
  const byNode = new Map<string, Set<string>>();
  for (const slice of slices) {
    const carries = (slice.ports ?? []).some((p) => (p.name ?? '') === (port.name ?? '') && (p.protocol ?? 'TCP') === (port.protocol ?? 'TCP'));
    if (!carries) continue;
    for (const e of slice.endpoints) {
      const state = stateOf(e);
      if (state === undefined || e.nodeName === undefined) continue;
      let ready = byNode.get(e.nodeName);
      if (ready === undefined) byNode.set(e.nodeName, (ready = new Set()));
      if (state === 'ready') for (const a of e.addresses) ready.add(a);
    }
  }
  return byNode;
}

export type NodePortBackends =
  | { readonly ok: true; readonly backends: Backend[] }
  | { readonly ok: false; readonly message: string };

/**
 * One Service port's backends as `nodeIP:nodePort`. `externalTrafficPolicy: Local`: only the
 * nodes with an endpoint of the Service (kube-proxy there drops node-port traffic for Services
 * without a local endpoint, and does not SNAT it), weighted by their ready endpoints so each
 * pod gets an even share (kube-proxy only spreads within the node); a node whose endpoints only
 * drain becomes a draining backend. `Cluster`: every target node, weight 1 (kube-proxy spreads
 * over all pods itself).
 */
export function nodePortBackendsFor(
  svc: KubeService,
  port: { name?: string; protocol?: string; port: number; nodePort?: number },
  slices: readonly KubeEndpointSlice[],
  targets: readonly NodePortTarget[],
  stateOf: (e: KubeEndpointSlice['endpoints'][number]) => Backend['state'] | undefined,
): NodePortBackends {
  const nodePort = port.nodePort;
  if (nodePort === undefined || nodePort === 0) {
    const why =
      svc.spec?.allocateLoadBalancerNodePorts === false
        ? 'spec.allocateLoadBalancerNodePorts is false'
        : `type ${svc.spec?.type ?? 'ClusterIP'} has no node ports`;
    return {
      ok: false,
      message: `port ${port.port}/${port.protocol ?? 'TCP'} has no nodePort (${why}), and this LB node's backends are nodeIP:nodePort (backends: nodePort); set allocateLoadBalancerNodePorts: true, or use backends: pods on an LB node that reaches pod IPs`,
    };
  }
  const local = svc.spec?.externalTrafficPolicy === 'Local';
  const withEndpoints = local ? endpointNodes(port, slices, stateOf) : undefined;
  const backends: Backend[] = [];
  for (const target of targets) {
    const local = withEndpoints?.get(target.name);
    if (withEndpoints !== undefined && local === undefined) continue;
    const readyHere = local?.size ?? 1;
    const state = readyHere > 0 ? 'ready' : 'terminating';
    for (const address of target.addresses) backends.push({ address, port: nodePort, weight: Math.max(readyHere, 1), state });
  }
  return { ok: true, backends: backends.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0)) };
}

/** A text that changes exactly when the targets do (Node heartbeats don't): the per-Service cache key. */
export function targetsFingerprint(targets: readonly NodePortTarget[]): string {
  return targets.map((t) => `${t.name}=${t.addresses.join(',')}`).join(';');
}
