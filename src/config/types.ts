import type { Pool } from '../model/index.ts';

/**
 * The standalone agent config after validation, with every default filled in and every
 * address in canonical text (RFC 5952 for IPv6), so consumers never re-parse or re-default.
 * See docs/config.md for the file format.
 */
export interface AgentConfig {
  readonly apiVersion: typeof CONFIG_API_VERSION;
  readonly kind: typeof CONFIG_KIND;
  readonly nodeName: string;
  readonly api: ApiConfig;
  readonly vipInterface: VipInterfaceConfig;
  readonly dataplane: DataplaneConfig;
  /** As written, without the VIP interface's gateway reservations (poolsFromConfig adds them). */
  readonly pools: readonly Pool[];
  readonly services: readonly ServiceConfig[];
  /** BGP announcement of the VIPs; absent: no routing protocol (clients use a static route). */
  readonly bgp?: BgpConfig;
  /** L2 announcement (ARP/NDP) of VIPs on the nodes' own segment; absent: off (docs/design/017-l2-mode.md). */
  readonly l2?: L2Config;
  /** How Services from Kubernetes are turned into backends (unused without Kubernetes). */
  readonly kubernetes: KubernetesConfig;
  /** Why the cluster asks this node to drain (a cordoned Node, an LBNodeConfig's spec.drain); never from the file. */
  readonly drainRequest?: string;
}

/**
 * `pods`: the EndpointSlices' pod addresses (the LB node routes to pods). `nodePort`: the
 * Ready nodes' InternalIP at each port's `nodePort`, for LB nodes that can't reach pod IPs.
 */
export const KubernetesBackendModes = ['pods', 'nodePort'] as const;
export type KubernetesBackendMode = (typeof KubernetesBackendModes)[number];

export interface KubernetesConfig {
  readonly backends: KubernetesBackendMode;
}

export const CONFIG_API_VERSION = 'vipgate.io/v1alpha1';
export const CONFIG_KIND = 'AgentConfig';

export interface ApiConfig {
  /** `host:port` as written (IPv6 hosts in brackets). */
  readonly listen: string;
  /** Canonical address to bind. */
  readonly host: string;
  readonly port: number;
}

/** An address held by the VIP interface, with the length of the subnet it sits in. */
export interface InterfaceAddress {
  /** Canonical address, e.g. `10.200.0.1`. */
  readonly address: string;
  readonly prefixLength: number;
}

export interface VipInterfaceConfig {
  /** Linux interface name, at most 15 bytes. */
  readonly name: string;
  readonly addresses: readonly InterfaceAddress[];
  /** Canonical CIDRs routed to the interface; defaults to the CIDRs covering the pools. */
  readonly routes: readonly string[];
}

export const DataplaneEngines = ['nftables', 'xdp', 'userspace'] as const;
export type DataplaneEngine = (typeof DataplaneEngines)[number];

export interface DataplaneConfig {
  readonly engine: DataplaneEngine;
  readonly snat: 'masquerade' | 'none';
  /** Canonical client CIDRs never served. */
  readonly denySources: readonly string[];
  /** How often the kernel state is read back and drift repaired. */
  readonly resyncSeconds: number;
  /** Settings of the XDP engine; present when the file has them. */
  readonly xdp?: XdpConfig;
}

export interface XdpConfig {
  /** Where the program attaches: the client-facing interfaces and, in nat mode, the backend-facing ones. */
  readonly interfaces: readonly string[];
  readonly mode: 'auto' | 'native' | 'generic';
  /** ipip/gue: the client's packet, unchanged, in a tunnel to a backend that holds the VIP. */
  readonly forwarding: 'nat' | 'dsr-l2' | 'ipip' | 'gue';
  /** Maps are pinned here (on a bpf filesystem) so a restarted agent keeps the connection table. */
  readonly pinDir: string;
  /** This node's addresses toward the backends (one per family): the source of masqueraded flows,
   * and of the outer header in ipip/gue. */
  readonly snatAddresses: readonly string[];
  /** ipip/gue: egress MTU toward the backends; bigger packets get ICMP "too big" answers. */
  readonly mtu: number;
  /** gue: the backends' GUE (fou) UDP port. */
  readonly guePort: number;
}

export type IpFamilyName = 'IPv4' | 'IPv6';
export type IpFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

export interface PortConfig {
  /** Empty when the service has one unnamed port. */
  readonly name: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
  readonly targetPort: number;
}

export interface BackendConfig {
  /** Canonical address. */
  readonly address: string;
  readonly weight: number;
  readonly state: 'ready' | 'terminating';
  /** Port name → target port on this backend, overriding the port's `targetPort`. */
  readonly ports: Readonly<Record<string, number>>;
}

export interface ServiceConfig {
  readonly name: string;
  readonly namespace: string;
  readonly type: 'ClusterIP' | 'LoadBalancer';
  /** Canonical addresses. */
  readonly externalIPs: readonly string[];
  /** Canonical addresses asked for (LoadBalancer only). */
  readonly loadBalancerIPs: readonly string[];
  readonly ipFamilyPolicy: IpFamilyPolicy;
  readonly ipFamilies: readonly IpFamilyName[];
  readonly pool?: string;
  readonly sharingKey?: string;
  readonly ports: readonly PortConfig[];
  readonly backends: readonly BackendConfig[];
  readonly sessionAffinity: 'None' | 'ClientIP';
  /** Canonical CIDRs. */
  readonly loadBalancerSourceRanges: readonly string[];
  /** The service's own setting, or `dataplane.snat`. */
  readonly snat: 'masquerade' | 'none';
}

export interface BgpPeerConfig {
  /** What `advertisements[].peers` may call the peer besides its address (a BGPPeer's name). */
  readonly name?: string;
  /** Canonical address. */
  readonly address: string;
  readonly asn: number;
  readonly port: number;
  readonly localAddress?: string;
  /** Seconds; 0 (no keepalives) or 3–65535. */
  readonly holdTime: number;
  readonly passive: boolean;
  readonly password?: string;
  readonly families: readonly ('ipv4' | 'ipv6')[];
  /** RFC 5880/5881 single-hop BFD with the router; absent when off. */
  readonly bfd?: BgpPeerBfdConfig;
  /** eBGP only: the IP TTL of our packets (2–255); absent: TTL 1 for eBGP, the kernel default for iBGP. */
  readonly multihop?: number;
  /** Canonical next hops for our routes; default: our address on the session, for its family. */
  readonly nextHop?: { readonly ipv4?: string; readonly ipv6?: string };
  /** This peer's lower preference while the node drains, over `bgp.drain`'s. */
  readonly drain?: BgpDrainPreference;
}

/** How a draining node's routes are made less preferred (docs/design/013-drain.md). */
export interface BgpDrainPreference {
  /** LOCAL_PREF sent to iBGP peers while draining. */
  readonly localPref?: number;
  /** Extra copies of our AS on the AS_PATH to eBGP peers while draining. */
  readonly asPathPrepend?: number;
  /** MULTI_EXIT_DISC sent to eBGP peers while draining. */
  readonly med?: number;
}

/** `bgp.drain`: a draining node's routes and how long it waits before withdrawing them. */
export interface BgpDrainConfig extends BgpDrainPreference {
  readonly localPref: number;
  readonly asPathPrepend: number;
  /** The longest wait between announcing GRACEFUL_SHUTDOWN and withdrawing. */
  readonly timeoutSeconds: number;
  /** Drained once no packet reached a VIP here for this long. */
  readonly quietSeconds: number;
}

export interface BgpPeerBfdConfig {
  /** Desired Min TX Interval once Up, milliseconds. */
  readonly minTxMs: number;
  /** Required Min RX Interval, milliseconds. */
  readonly minRxMs: number;
  /** Detect Mult: the router declares us down after this many intervals without a packet. */
  readonly multiplier: number;
}

/**
 * Which VIPs go to which peers, and how (the BGPAdvertisement CRD's spec). Several entries that
 * give one peer the same prefix merge: communities united, the highest localPref, the lowest med.
 */
export interface BgpAdvertisementConfig {
  /** Pool names; empty: every VIP, also those in no pool. */
  readonly pools: readonly string[];
  /** Peer names or canonical addresses; empty: every peer. */
  readonly peers: readonly string[];
  /** 32: each IPv4 VIP; shorter: the covering prefix of that length. */
  readonly aggregationLength: number;
  /** 128: each IPv6 VIP; shorter: the covering prefix of that length. */
  readonly aggregationLengthV6: number;
  /** Announce the VIP interface route covering the VIP instead (the original set-up's "announce the CIDR"). */
  readonly aggregateToVipRoutes: boolean;
  readonly communities: readonly string[];
  readonly largeCommunities: readonly string[];
  /** Sent to iBGP peers only (RFC 4271 §5.1.5). */
  readonly localPref?: number;
  readonly med?: number;
}

export interface BgpConfig {
  /** Canonical IPv4 address. */
  readonly routerId: string;
  readonly localASN: number;
  /** RFC 4724 restart time; 0: graceful restart off. */
  readonly gracefulRestartSeconds: number;
  readonly peers: readonly BgpPeerConfig[];
  /** Taken literally: empty announces nothing (the file's defaults fill one "everything" entry). */
  readonly advertisements: readonly BgpAdvertisementConfig[];
  /** Draining the node (`vipgate drain`); absent: DEFAULT_BGP_DRAIN. */
  readonly drain?: BgpDrainConfig;
}

/** `l2.advertisements[]`: which VIPs are answered for, on which interfaces (the L2Advertisement CRD's spec). */
export interface L2AdvertisementConfig {
  /** Pool names; empty: every VIP (also those in no pool). */
  readonly pools: readonly string[];
  /** Interface names, each at most 15 bytes; a VIP is answered on those among them whose subnet holds it. */
  readonly interfaces: readonly string[];
}

/** Another LB node answering in L2 mode: its liveness is watched by BFD over the L2 segment. */
export interface L2PeerConfig {
  /** Its node name: every node ranks VIPs by node names, so this must be the name that node calls itself (its `nodeName`). */
  readonly name: string;
  /** Canonical addresses; BFD runs to the one inside an L2 interface's subnet (per family). */
  readonly addresses: readonly string[];
}

/** Gratuitous ARP / unsolicited NA sent when a VIP is taken over. */
export interface L2AnnounceConfig {
  /** How many (1..10). */
  readonly count: number;
  /** Milliseconds between the first and second; each later gap doubles (10..10000). */
  readonly intervalMs: number;
  /** Re-announce every owned VIP this often; 0: never (the default). */
  readonly periodicSeconds: number;
}

export interface L2Config {
  readonly advertisements: readonly L2AdvertisementConfig[];
  /** Empty: this node is the only one (it owns every VIP it can serve). */
  readonly peers: readonly L2PeerConfig[];
  readonly announce: L2AnnounceConfig;
  /** A node up for less than this only fills gaps (docs/design/017, "Moving back"); 0: moves back at once. */
  readonly failbackHoldDownSeconds: number;
  /** BFD between the LB nodes; default 100 ms × 3. */
  readonly bfd: BgpPeerBfdConfig;
}

export const DEFAULT_L2_ANNOUNCE: L2AnnounceConfig = { count: 3, intervalMs: 250, periodicSeconds: 0 };
export const DEFAULT_L2_BFD: BgpPeerBfdConfig = { minTxMs: 100, minRxMs: 100, multiplier: 3 };
export const DEFAULT_L2_FAILBACK_HOLD_DOWN_SECONDS = 10;
