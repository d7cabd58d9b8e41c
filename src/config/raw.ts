/**
 * The file's shape as the schema admits it: everything optional that has a default, addresses
 * as written. Only `applyDefaults` turns it into an AgentConfig.
 */
export interface RawConfig {
  apiVersion: string;
  kind: string;
  nodeName?: string;
  api?: { listen?: string };
  vipInterface?: { name?: string; addresses?: string[]; routes?: string[] };
  dataplane?: {
    engine?: 'nftables' | 'xdp' | 'userspace';
    snat?: 'masquerade' | 'none';
    denySources?: string[];
    resyncSeconds?: number;
    xdp?: {
      interfaces: string[];
      mode?: 'auto' | 'native' | 'generic';
      forwarding?: 'nat' | 'dsr-l2' | 'ipip' | 'gue';
      pinDir?: string;
      snatAddresses?: string[];
      mtu?: number;
      guePort?: number;
    };
  };
  pools?: RawPool[];
  services?: RawService[];
  bgp?: RawBgp;
  l2?: RawL2;
  kubernetes?: { backends?: 'pods' | 'nodePort' };
}

export interface RawBgpPeer {
  name?: string;
  address: string;
  asn: number;
  port?: number;
  localAddress?: string;
  holdTime?: number;
  passive?: boolean;
  password?: string;
  families?: ('ipv4' | 'ipv6')[];
  bfd?: { enabled?: boolean; minTxMs?: number; minRxMs?: number; multiplier?: number };
  multihop?: number;
  nextHop?: { ipv4?: string; ipv6?: string };
  drain?: { localPref?: number; asPathPrepend?: number; med?: number };
}

export interface RawBgpAdvertisement {
  pools?: string[];
  peers?: string[];
  aggregationLength?: number;
  aggregationLengthV6?: number;
  aggregateToVipRoutes?: boolean;
  communities?: string[];
  largeCommunities?: string[];
  localPref?: number;
  med?: number;
}

export interface RawBgp {
  routerId: string;
  localASN: number;
  gracefulRestartSeconds?: number;
  peers?: RawBgpPeer[];
  advertise?: { aggregate?: boolean; communities?: string[]; largeCommunities?: string[]; localPref?: number; med?: number };
  advertisements?: RawBgpAdvertisement[];
  drain?: { localPref?: number; asPathPrepend?: number; med?: number; timeoutSeconds?: number; quietSeconds?: number };
}

export interface RawL2Peer {
  name: string;
  /** Exactly one of `address` and `addresses` (semantic-l2.ts). */
  address?: string;
  addresses?: string[];
}

export interface RawL2 {
  advertisements: { pools?: string[]; interfaces: string[] }[];
  peers?: RawL2Peer[];
  announce?: { count?: number; intervalMs?: number; periodicSeconds?: number };
  failbackHoldDownSeconds?: number;
  bfd?: { minTxMs?: number; minRxMs?: number; multiplier?: number };
}

export interface RawPool {
  name: string;
  addresses: string[];
  autoAssign?: boolean;
  avoidBuggyIPs?: boolean;
  allowExternalIPs?: boolean;
  namespaces?: string[];
  reserved?: string[];
  priority?: number;
}

export interface RawPort {
  name?: string;
  port: number;
  protocol?: 'TCP' | 'UDP';
  targetPort?: number;
}

export interface RawBackend {
  address: string;
  weight?: number;
  state?: 'ready' | 'terminating';
  ports?: Record<string, number>;
}

export interface RawService {
  name: string;
  namespace?: string;
  type?: 'ClusterIP' | 'LoadBalancer';
  externalIPs?: string[];
  loadBalancerIPs?: string[];
  ipFamilyPolicy?: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
  ipFamilies?: ('IPv4' | 'IPv6')[];
  pool?: string;
  sharingKey?: string;
  ports: RawPort[];
  backends?: RawBackend[];
  sessionAffinity?: 'None' | 'ClientIP';
  loadBalancerSourceRanges?: string[];
  snat?: 'masquerade' | 'none';
}
