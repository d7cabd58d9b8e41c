import type { Logger } from 'pino';
import type { AgentInput } from '../agent/agent.ts';
import {
  Annotations, createKubeClients, ingressAddresses, isOurLoadBalancer, keyOf, poolsFromResources, protocolOf, watchKind,
  type ClassPolicy, type KubeClients, type KubeEndpointSlice, type KubeNode, type KubeService, type KubeTarget, type KubeVipPool, type WatchedKind,
} from '../kube/index.ts';
import type { Backend, ServicePort, ServiceSpec } from '../model/index.ts';
import { formatIp, tryParseIp, type Family } from '../net/index.ts';

export interface ClusterState {
  readonly services: readonly KubeService[];
  readonly endpointSlices: readonly KubeEndpointSlice[];
  readonly nodes: readonly KubeNode[];
  readonly pools: readonly KubeVipPool[];
}

export interface KubernetesSourceProblem {
  readonly object: string;
  readonly message: string;
}

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * An endpoint's backend state (EndpointSlice conditions; `ready` unset means ready, as the API
 * documents). Terminating endpoints that still serve drain: existing flows only. Not serving:
 * dropped.
 */
function backendState(e: KubeEndpointSlice['endpoints'][number]): Backend['state'] | undefined {
  const c = e.conditions ?? {};
  if (c.ready ?? true) return c.terminating === true ? (c.serving === false ? undefined : 'terminating') : 'ready';
  if (c.serving === true && c.terminating === true) return 'terminating';
  return undefined;
}

/** Backends of one Service port from the Service's slices; named target ports resolve per slice. */
function backendsFor(port: { name?: string; protocol?: string }, slices: readonly KubeEndpointSlice[]): Backend[] {
  const byKey = new Map<string, Backend>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const sp = (slice.ports ?? []).find((p) => (p.name ?? '') === (port.name ?? '') && (p.protocol ?? 'TCP') === (port.protocol ?? 'TCP'));
    if (sp?.port === undefined) continue;
    for (const endpoint of slice.endpoints) {
      const state = backendState(endpoint);
      if (state === undefined) continue;
      for (const text of endpoint.addresses) {
        const ip = tryParseIp(text);
        if (ip === undefined) continue;
        const address = formatIp(ip);
        const key = `${address}|${sp.port}`;
        // The same endpoint in two slices (mid-migration): ready wins over terminating.
        if (byKey.get(key)?.state === 'ready') continue;
        byKey.set(key, { address, port: sp.port, weight: 1, state });
      }
    }
  }
  return [...byKey.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
}

/**
 * The cluster as the agent's input: the same shape the file source produces. LoadBalancer VIPs
 * come from `status.loadBalancer.ingress` (the controller's decision) as requested addresses, so
 * the agent's IPAM keeps exactly them; a LoadBalancer the controller has not served yet is left
 * out rather than given an address of the agent's choosing. External IPs are passed on as
 * claims: the agent checks them against the pools itself. Cluster nodes are denied as sources.
 */
export function inputFromCluster(state: ClusterState, policy: ClassPolicy): { input: AgentInput; problems: KubernetesSourceProblem[] } {
  const problems: KubernetesSourceProblem[] = [];
  const { pools, problems: poolProblems } = poolsFromResources(state.pools);
  for (const p of poolProblems) problems.push({ object: `VIPPool ${p.pool}`, message: p.message });
  const slicesByService = new Map<string, KubeEndpointSlice[]>();
  for (const slice of state.endpointSlices) {
    const owner = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (owner === undefined) continue;
    const key = `${slice.metadata?.namespace ?? ''}/${owner}`;
    slicesByService.set(key, [...(slicesByService.get(key) ?? []), slice]);
  }
  const services: ServiceSpec[] = [];
  for (const svc of state.services) {
    const key = keyOf(svc);
    const lb = isOurLoadBalancer(svc, policy) ? ingressAddresses(svc) : [];
    const externalIPs = (svc.spec?.externalIPs ?? []).map((a) => { const ip = tryParseIp(a); return ip === undefined ? a : formatIp(ip); });
    if (lb.length === 0 && externalIPs.length === 0) continue;
    const slices = slicesByService.get(key) ?? [];
    const ports: ServicePort[] = [];
    for (const p of svc.spec?.ports ?? []) {
      const protocol = protocolOf(p.protocol);
      if (protocol === undefined) {
        problems.push({ object: `Service ${key}`, message: `port ${p.port}/${p.protocol ?? ''} is not served: only TCP and UDP are` });
        continue;
      }
      ports.push({ name: p.name ?? '', port: p.port, protocol, backends: backendsFor(p, slices) });
    }
    const annotations = svc.metadata?.annotations ?? {};
    const pool = annotations[Annotations.pool];
    const sharingKey = annotations[Annotations.sharingKey];
    const families = [...new Set(lb.map((a): Family => (a.includes(':') ? 6 : 4)))];
    services.push({
      key, namespace: svc.metadata?.namespace ?? '', name: svc.metadata?.name ?? '',
      type: lb.length > 0 ? 'LoadBalancer' : 'ClusterIP',
      externalIPs, requestedIPs: lb, ipFamilies: families.length === 0 ? [4] : families,
      ...(pool === undefined || pool === '' ? {} : { pool }),
      ...(sharingKey === undefined || sharingKey === '' ? {} : { sharingKey }),
      ports,
      sessionAffinity: svc.spec?.sessionAffinity === 'ClientIP' ? 'ClientIP' : 'None',
      sourceRanges: [...(svc.spec?.loadBalancerSourceRanges ?? [])],
      snat: 'masquerade',
    });
  }
  const denySources = new Set<string>();
  for (const node of state.nodes) {
    for (const a of node.status?.addresses ?? []) {
      const ip = a.type === 'InternalIP' || a.type === 'ExternalIP' ? tryParseIp(a.address) : undefined;
      if (ip !== undefined) denySources.add(`${formatIp(ip)}/${ip.family === 4 ? 32 : 128}`);
    }
  }
  services.sort((a, b) => (a.key < b.key ? -1 : 1));
  return { input: { pools, services, denySources: [...denySources].sort() }, problems };
}

export interface KubernetesSourceOptions {
  /** A kubeconfig file; the in-cluster service account when omitted (and no clients given). */
  readonly kubeconfig?: string;
  readonly kubeconfigText?: string;
  readonly clients?: KubeClients;
  readonly onInput: (input: AgentInput, problems: readonly KubernetesSourceProblem[]) => void;
  readonly log: Logger;
  /** Quiet time after a change before the input is rebuilt, so a burst becomes one input. */
  readonly debounceMs?: number;
  readonly isDefaultClass?: boolean;
  readonly informerRestartMs?: number;
}

export interface KubernetesSource {
  /** Resolves after the first input was emitted (every informer listed once). */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The agent's Kubernetes source: informers on Services, EndpointSlices, Nodes and VIPPools;
 * on any change, after `debounceMs`, the whole input is rebuilt from the caches and handed to
 * `onInput` (level-triggered: no event payload is trusted on its own).
 */
export function startKubernetesSource(options: KubernetesSourceOptions): KubernetesSource {
  const target: KubeTarget = options.kubeconfigText !== undefined ? { kubeconfigText: options.kubeconfigText } : options.kubeconfig !== undefined ? { kubeconfig: options.kubeconfig } : { inCluster: true };
  const clients = options.clients ?? createKubeClients(target);
  const policy = { isDefaultClass: options.isDefaultClass ?? false };
  const debounceMs = options.debounceMs ?? 50;
  let timer: NodeJS.Timeout | undefined;
  let synced = false;
  let stopped = false;
  const emit = (): void => {
    timer = undefined;
    if (stopped) return;
    const { input, problems } = inputFromCluster(
      { services: services.list(), endpointSlices: slices.list(), nodes: nodes.list(), pools: pools.list() },
      policy,
    );
    options.onInput(input, problems);
  };
  const changed = (): void => {
    if (!synced || timer !== undefined) return;
    timer = setTimeout(emit, debounceMs);
  };
  const common = {
    onChange: changed,
    restartDelayMs: options.informerRestartMs ?? 500,
    onError: (error: unknown, ms: number) => options.log.warn({ err: error }, `watch failed; restarting in ${ms} ms`),
  };
  const services: WatchedKind<KubeService> = watchKind(clients, 'services', common);
  const slices: WatchedKind<KubeEndpointSlice> = watchKind(clients, 'endpointslices', common);
  const nodes: WatchedKind<KubeNode> = watchKind(clients, 'nodes', common);
  const pools: WatchedKind<KubeVipPool> = watchKind(clients, 'vippools', common);
  const ready = Promise.all([services.synced, slices.synced, nodes.synced, pools.synced]).then(() => {
    synced = true;
    emit();
  });
  return {
    ready,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all([services.stop(), slices.stop(), nodes.stop(), pools.stop()]);
    },
  };
}
