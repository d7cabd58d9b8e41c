import type { Logger } from 'pino';
import type { AgentConfig, KubernetesBackendMode } from '../config/index.ts';
import { createKubeClients, EventSink, watchKind, type EventRecord, type KubeClients, type KubeCustomObject, type KubeEndpointSlice, type KubeLbNodeConfig, type KubeNode, type KubeSecret, type KubeService, type KubeTarget, type KubeVipPool, type WatchedKind } from '../kube/index.ts';
import { Annotations, claimOf, ingressAddresses, isOurLoadBalancer, keyOf, poolsFromResources, protocolOf, type ClassPolicy } from '../kube-model/index.ts';
import type { AgentInput, Backend, ServicePort, ServiceSpec, SnatMode } from '../model/index.ts';
import { formatIp, tryParseIp, type Family } from '../net/index.ts';
import { bgpFromCluster, secretLookup } from './kubernetes-bgp.ts';
import { l2FromCluster } from './kubernetes-l2.ts';
import { nodeSettingsFromCluster, type NodeSettings } from './kubernetes-node.ts';
import { nodePortBackendsFor, nodePortTargets, targetsFingerprint, type NodePortTarget } from './kubernetes-nodeport.ts';

// Here for the agent and the tests: the source and the node settings it emits.
export { nodeSettingsFromCluster, type NodeSettings } from './kubernetes-node.ts';

export interface ClusterState {
  readonly services: readonly KubeService[];
  readonly endpointSlices: readonly KubeEndpointSlice[];
  readonly nodes: readonly KubeNode[];
  readonly pools: readonly KubeVipPool[];
}

/**
 * Where backends come from: the pods (EndpointSlice addresses), or every eligible node's
 * nodePort. `selfNodeName` is this LB node, never its own backend.
 */
export interface BackendChoice {
  readonly mode: KubernetesBackendMode;
  readonly selfNodeName?: string;
  /** The node's `dataplane.snat`, for every Service (Kubernetes has no per-Service field); default masquerade. */
  readonly snat?: SnatMode;
}

/** The choice resolved against the current Nodes, shared by every Service of one input. */
type ResolvedChoice = ({ readonly mode: 'pods' } | { readonly mode: 'nodePort'; readonly targets: readonly NodePortTarget[] }) & { readonly key: string; readonly snat: SnatMode };

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

interface CachedSpec {
  readonly isDefaultClass: boolean;
  /** The backend choice it was computed for (node-port targets included). */
  readonly choiceKey: string;
  readonly slices: readonly KubeEndpointSlice[];
  readonly spec: ServiceSpec | undefined;
  readonly problems: readonly KubernetesSourceProblem[];
}

const specCache = new WeakMap<KubeService, CachedSpec>();

function sameSlices(a: readonly KubeEndpointSlice[], b: readonly KubeEndpointSlice[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

/** One Service as the agent serves it (undefined: nothing to serve), and what was left out. */
function serviceSpecOf(svc: KubeService, slices: readonly KubeEndpointSlice[], policy: ClassPolicy, choice: ResolvedChoice): CachedSpec {
  const problems: KubernetesSourceProblem[] = [];
  const done = (spec: ServiceSpec | undefined): CachedSpec => ({ isDefaultClass: policy.isDefaultClass, choiceKey: choice.key, slices, spec, problems });
  const key = keyOf(svc);
  const lb = isOurLoadBalancer(svc, policy) ? ingressAddresses(svc) : [];
  const externalIPs = (svc.spec?.externalIPs ?? []).map((a) => { const ip = tryParseIp(a); return ip === undefined ? a : formatIp(ip); });
  if (lb.length === 0 && externalIPs.length === 0) return done(undefined);
  const ports: ServicePort[] = [];
  for (const p of svc.spec?.ports ?? []) {
    const protocol = protocolOf(p.protocol);
    if (protocol === undefined) {
      problems.push({ object: `Service ${key}`, message: `port ${p.port}/${p.protocol ?? ''} is not served: only TCP and UDP are` });
      continue;
    }
    if (choice.mode === 'pods') {
      ports.push({ name: p.name ?? '', port: p.port, protocol, backends: backendsFor(p, slices) });
      continue;
    }
    const viaNodes = nodePortBackendsFor(svc, p, slices, choice.targets, backendState);
    if (viaNodes.ok) ports.push({ name: p.name ?? '', port: p.port, protocol, backends: viaNodes.backends });
    else problems.push({ object: `Service ${key}`, message: viaNodes.message });
  }
  // Nothing left to serve (no node ports): the VIP stays dark rather than announced with no backends.
  if (ports.length === 0 && problems.length > 0) return done(undefined);
  const annotations = svc.metadata?.annotations ?? {};
  const pool = annotations[Annotations.pool];
  const sharingKey = annotations[Annotations.sharingKey];
  const families = [...new Set(lb.map((a): Family => (a.includes(':') ? 6 : 4)))];
  const claim = claimOf(svc);
  return done({
    key, namespace: svc.metadata?.namespace ?? '', name: svc.metadata?.name ?? '',
    type: lb.length > 0 ? 'LoadBalancer' : 'ClusterIP',
    externalIPs, requestedIPs: lb, ipFamilies: families.length === 0 ? [4] : families,
    ...(pool === undefined || pool === '' ? {} : { pool }),
    ...(sharingKey === undefined || sharingKey === '' ? {} : { sharingKey }),
    ports,
    sessionAffinity: svc.spec?.sessionAffinity === 'ClientIP' ? 'ClientIP' : 'None',
    sourceRanges: [...(svc.spec?.loadBalancerSourceRanges ?? [])],
    snat: choice.snat,
    ...(claim === undefined ? {} : { claim }),
  });
}

/**
 * The cluster as the agent's input: the same shape the file source produces. LoadBalancer VIPs
 * come from `status.loadBalancer.ingress` (the controller's decision) as requested addresses, so
 * the agent's IPAM keeps exactly them; a LoadBalancer the controller has not served yet is left
 * out rather than given an address of the agent's choosing. External IPs are passed on as
 * claims: the agent checks them against the pools itself. Cluster nodes are denied as sources.
 */
export function inputFromCluster(
  state: ClusterState,
  policy: ClassPolicy,
  backends: BackendChoice = { mode: 'pods' },
): { input: AgentInput; problems: KubernetesSourceProblem[] } {
  const problems: KubernetesSourceProblem[] = [];
  const choice = resolveChoice(backends, state.nodes);
  const { pools: clusterPools, problems: poolProblems } = poolsFromResources(state.pools);
  // Which pool a VIP comes from (serviceSelector) is the controller's choice, already made in
  // the status; the agent, which has no Service labels, keeps the address it was given.
  const pools = clusterPools.map(({ serviceSelector: _chosenByController, ...pool }) => pool);
  for (const p of poolProblems) problems.push({ object: `VIPPool ${p.pool}`, message: p.message });
  const slicesByService = new Map<string, KubeEndpointSlice[]>();
  for (const slice of state.endpointSlices) {
    const owner = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (owner === undefined) continue;
    const key = `${slice.metadata?.namespace ?? ''}/${owner}`;
    const list = slicesByService.get(key);
    if (list === undefined) slicesByService.set(key, [slice]);
    else list.push(slice);
  }
  const services: ServiceSpec[] = [];
  for (const svc of state.services) {
    const slices = slicesByService.get(keyOf(svc)) ?? [];
    // Informer objects are replaced, never mutated, on change: an unchanged Service with the
    // same slices gives the same spec, so a one-slice change costs one Service, not 10,000.
    const cached = specCache.get(svc);
    const fresh = cached !== undefined && cached.isDefaultClass === policy.isDefaultClass && cached.choiceKey === choice.key && sameSlices(cached.slices, slices);
    const out = fresh ? cached : serviceSpecOf(svc, slices, policy, choice);
    if (out !== cached) specCache.set(svc, out);
    problems.push(...out.problems);
    if (out.spec !== undefined) services.push(out.spec);
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

function resolveChoice(choice: BackendChoice, nodes: readonly KubeNode[]): ResolvedChoice {
  const snat = choice.snat ?? 'masquerade';
  if (choice.mode === 'pods') return { mode: 'pods', key: `pods|${snat}`, snat };
  const targets = nodePortTargets(nodes, choice.selfNodeName);
  return { mode: 'nodePort', key: `nodePort|${snat}|${targetsFingerprint(targets)}`, targets, snat };
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
  /**
   * Take this node's settings from the LBNodeConfig selecting it (watched: `onNodeSettings` is
   * called with the first result and whenever it changes).
   */
  readonly nodeName?: string;
  readonly onNodeSettings?: (settings: NodeSettings) => void;
  /**
   * With a settings file (no `nodeName`): the file's `kubernetes.backends`, `dataplane.snat`
   * and its `nodeName` (this LB node, never its own node-port backend). Default: pod
   * backends, masquerade.
   */
  readonly fileSettings?: Pick<AgentConfig, 'nodeName' | 'kubernetes' | 'dataplane'>;
  /** Where BGP password Secrets live (the agent's own namespace); default `$POD_NAMESPACE`, else `vipgate-system`. */
  readonly secretsNamespace?: string;
}

export interface KubernetesSource {
  /** Resolves after the first input was emitted (every informer listed once). */
  readonly ready: Promise<void>;
  /** This node's settings as last computed (undefined without `nodeName` or before `ready`). */
  nodeSettings(): NodeSettings | undefined;
  /** The settings file changed: its `kubernetes` section applies from the next input (emitted at once). */
  setFileSettings(settings: Pick<AgentConfig, 'nodeName' | 'kubernetes' | 'dataplane'>): void;
  /** Writes an Event (best effort, queued, a few at a time: an agent's Events never hold up its work). */
  recordEvent(event: EventRecord): void;
  /** Writes this node's LBNodeStatus `status` (the agent's read-back, docs/design/019). */
  writeNodeStatus(name: string, status: object): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The agent's Kubernetes source: informers on Services, EndpointSlices, Nodes and VIPPools (and,
 * with `nodeName`, the LBNodeConfigs, BGPPeers, BGPAdvertisements, Secrets and L2Advertisements);
 * on any change, after `debounceMs`, the whole input is rebuilt from the caches and handed to
 * `onInput` (level-triggered: no event payload is trusted on its own).
 */
export function startKubernetesSource(options: KubernetesSourceOptions): KubernetesSource {
  const target: KubeTarget = options.kubeconfigText !== undefined ? { kubeconfigText: options.kubeconfigText } : options.kubeconfig !== undefined ? { kubeconfig: options.kubeconfig } : { inCluster: true };
  // In the DaemonSet, POD_NAMESPACE (downward API) is the install's namespace, whatever --namespace chose.
  const secretsNamespace = options.secretsNamespace ?? (process.env['POD_NAMESPACE'] || undefined) ?? 'vipgate-system';
  const clients = options.clients ?? createKubeClients(target, { secretsNamespace });
  const events = new EventSink({ clients, log: options.log, concurrency: 2, maxQueued: 1000 });
  const policy = { isDefaultClass: options.isDefaultClass ?? false };
  const debounceMs = options.debounceMs ?? 50;
  let timer: NodeJS.Timeout | undefined;
  let synced = false;
  let stopped = false;
  let settings: NodeSettings | undefined;
  let settingsText = '';
  let fileSettings = options.fileSettings;
  /** The last settings that were good: the agent keeps serving with them while newer ones are refused. */
  let lastGood: AgentConfig | undefined;
  /** Backends as this node's settings say: its LBNodeConfig's when it has one, else the file's. */
  const backendChoice = (): BackendChoice => {
    const from = lastGood ?? fileSettings;
    return from === undefined ? { mode: 'pods' } : { mode: from.kubernetes.backends, selfNodeName: from.nodeName, snat: from.dataplane.snat };
  };
  let crdProblems: readonly KubernetesSourceProblem[] = [];
  const emitNodeSettings = (): void => {
    if (options.nodeName === undefined || nodeConfigs === undefined || bgp === undefined || l2Advertisements === undefined) return;
    const nodeName = options.nodeName;
    let next = nodeSettingsFromCluster(nodeName, nodes.list(), nodeConfigs.list());
    if (next.ok) {
      // BGP and L2 come from the BGPPeers, BGPAdvertisements and L2Advertisements selecting
      // this node, into the same `bgp` and `l2` the file would give: the agent's paths are unchanged.
      const node = nodes.get(nodeName);
      const fromCrds = bgpFromCluster({
        nodeName, node, peers: bgp.peers.list(), advertisements: bgp.advertisements.list(),
        secret: secretLookup(bgp.secrets.list(), secretsNamespace),
      });
      const l2 = l2FromCluster({ nodeName, node, nodes: nodes.list(), advertisements: l2Advertisements.list(), lbNodeConfigs: nodeConfigs.list() });
      crdProblems = [...fromCrds.problems, ...l2.problems];
      next = {
        ...next,
        config: { ...next.config, ...(fromCrds.bgp === undefined ? {} : { bgp: fromCrds.bgp }), ...(l2.l2 === undefined ? {} : { l2: l2.l2 }) },
      };
    }
    // Node status churns (heartbeats); only a change in the outcome is news.
    const text = JSON.stringify(next);
    if (text === settingsText) return;
    settings = next;
    settingsText = text;
    if (next.ok) lastGood = next.config;
    options.onNodeSettings?.(next);
  };
  const emit = (): void => {
    timer = undefined;
    if (stopped) return;
    emitNodeSettings();
    const { input, problems } = inputFromCluster(
      { services: services.list(), endpointSlices: slices.list(), nodes: nodes.list(), pools: pools.list() },
      policy,
      backendChoice(),
    );
    options.onInput(input, [...problems, ...crdProblems]);
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
  const nodeConfigs: WatchedKind<KubeLbNodeConfig> | undefined = options.nodeName === undefined ? undefined : watchKind(clients, 'lbnodeconfigs', common);
  // BGP from CRDs only where the node's settings come from the cluster (a file brings its own).
  const bgp: { peers: WatchedKind<KubeCustomObject>; advertisements: WatchedKind<KubeCustomObject>; secrets: WatchedKind<KubeSecret> } | undefined =
    options.nodeName === undefined
      ? undefined
      : { peers: watchKind(clients, 'bgppeers', common), advertisements: watchKind(clients, 'bgpadvertisements', common), secrets: watchKind(clients, 'secrets', common) };
  const bgpSynced = bgp === undefined ? [] : [bgp.peers.synced, bgp.advertisements.synced, bgp.secrets.synced];
  // L2 likewise; its peers are the other Nodes, already watched.
  const l2Advertisements: WatchedKind<KubeCustomObject> | undefined = options.nodeName === undefined ? undefined : watchKind(clients, 'l2advertisements', common);
  const ready = Promise.all([services.synced, slices.synced, nodes.synced, pools.synced, nodeConfigs?.synced, ...bgpSynced, l2Advertisements?.synced]).then(() => {
    synced = true;
    emit();
  });
  return {
    ready,
    nodeSettings: () => settings,
    recordEvent: (event) => events.record(event),
    writeNodeStatus: (name, status) => clients.writeNodeStatus(name, status),
    setFileSettings(next) {
      fileSettings = next;
      if (synced && timer === undefined) timer = setTimeout(emit, 0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all([events.stop(), services.stop(), slices.stop(), nodes.stop(), pools.stop(), nodeConfigs?.stop(), bgp?.peers.stop(), bgp?.advertisements.stop(), bgp?.secrets.stop(), l2Advertisements?.stop()]);
    },
  };
}
