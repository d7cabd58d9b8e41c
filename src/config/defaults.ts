import type { Pool } from '../model/index.ts';
import {
  formatCidr,
  formatIp,
  formatRange,
  parseCidr,
  parseRange,
  rangeToCidrs,
  tryParseIp,
} from '../net/index.ts';
import { rememberedCanonicalIp as canonicalIp } from './address-memo.ts';
import { familiesOf, policyOf } from './families.ts';
import { splitHostPort } from './formats.ts';
import type { RawBackend, RawBgp, RawBgpAdvertisement, RawConfig, RawL2, RawPool, RawPort, RawService } from './raw.ts';
import {
  CONFIG_API_VERSION,
  CONFIG_KIND,
  DEFAULT_L2_ANNOUNCE,
  DEFAULT_L2_BFD,
  DEFAULT_L2_FAILBACK_HOLD_DOWN_SECONDS,
  type AgentConfig,
  type BackendConfig,
  type BgpAdvertisementConfig,
  type BgpConfig,
  type InterfaceAddress,
  type L2Config,
  type PortConfig,
  type ServiceConfig,
} from './types.ts';

export const DEFAULT_LISTEN = '127.0.0.1:9470';
export const DEFAULT_VIP_INTERFACE = 'vipgate0';
export const DEFAULT_RESYNC_SECONDS = 30;
export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_BGP_HOLD_TIME = 90;
export const DEFAULT_XDP_PIN_DIR = '/sys/fs/bpf/vipgate';
/** The usual Ethernet MTU toward backends (ipip/gue), and Katran's GUE port. */
export const DEFAULT_XDP_MTU = 1500;
export const DEFAULT_XDP_GUE_PORT = 6080;
export const DEFAULT_GRACEFUL_RESTART_SECONDS = 120;
/** docs/design/013-drain.md: LOCAL_PREF 0 to iBGP, three extra AS hops to eBGP, 30 s at most. */
export const DEFAULT_BGP_DRAIN = { localPref: 0, asPathPrepend: 3, timeoutSeconds: 30, quietSeconds: 2 } as const;
/** BFD timers when `bfd` is given without them: 300 ms × 3, the common router default. */
export const DEFAULT_BFD = { minTxMs: 300, minRxMs: 300, multiplier: 3 } as const;

/** The IPv4 and IPv6 lengths that announce each VIP as itself. */
export const HOST_ROUTE_LENGTHS = { ipv4: 32, ipv6: 128 } as const;

function advertisementOf(a: RawBgpAdvertisement): BgpAdvertisementConfig {
  return {
    pools: a.pools ?? [],
    // Addresses are compared canonically; names are left as written.
    peers: (a.peers ?? []).map((p) => { const ip = tryParseIp(p); return ip === undefined ? p : formatIp(ip); }),
    aggregationLength: a.aggregationLength ?? HOST_ROUTE_LENGTHS.ipv4,
    aggregationLengthV6: a.aggregationLengthV6 ?? HOST_ROUTE_LENGTHS.ipv6,
    aggregateToVipRoutes: a.aggregateToVipRoutes ?? false,
    communities: a.communities ?? [],
    largeCommunities: a.largeCommunities ?? [],
    ...(a.localPref === undefined ? {} : { localPref: a.localPref }),
    ...(a.med === undefined ? {} : { med: a.med }),
  };
}

/**
 * `advertisements` as written; else the older single `advertise` block, which meant one
 * advertisement of every VIP to every peer (its `aggregate` is `aggregateToVipRoutes`).
 */
function advertisementsOf(raw: RawBgp): BgpAdvertisementConfig[] {
  if (raw.advertisements !== undefined) return raw.advertisements.map(advertisementOf);
  const { aggregate, ...rest } = raw.advertise ?? {};
  return [advertisementOf({ ...rest, ...(aggregate === undefined ? {} : { aggregateToVipRoutes: aggregate }) })];
}

function bgpOf(raw: RawBgp): BgpConfig {
  return {
    routerId: canonicalIp(raw.routerId),
    localASN: raw.localASN,
    gracefulRestartSeconds: raw.gracefulRestartSeconds ?? DEFAULT_GRACEFUL_RESTART_SECONDS,
    peers: (raw.peers ?? []).map((p) => ({
      ...(p.name === undefined ? {} : { name: p.name }),
      address: canonicalIp(p.address),
      asn: p.asn,
      port: p.port ?? 179,
      ...(p.localAddress === undefined ? {} : { localAddress: canonicalIp(p.localAddress) }),
      holdTime: p.holdTime ?? DEFAULT_BGP_HOLD_TIME,
      passive: p.passive ?? false,
      ...(p.password === undefined ? {} : { password: p.password }),
      families: p.families ?? ['ipv4', 'ipv6'],
      // A `bfd` mapping turns BFD on unless it says `enabled: false`.
      ...(p.bfd === undefined || p.bfd.enabled === false
        ? {}
        : {
            bfd: {
              minTxMs: p.bfd.minTxMs ?? DEFAULT_BFD.minTxMs,
              minRxMs: p.bfd.minRxMs ?? DEFAULT_BFD.minRxMs,
              multiplier: p.bfd.multiplier ?? DEFAULT_BFD.multiplier,
            },
          }),
      ...(p.multihop === undefined ? {} : { multihop: p.multihop }),
      ...(p.drain === undefined ? {} : { drain: p.drain }),
      ...(p.nextHop === undefined
        ? {}
        : {
            nextHop: {
              ...(p.nextHop.ipv4 === undefined ? {} : { ipv4: canonicalIp(p.nextHop.ipv4) }),
              ...(p.nextHop.ipv6 === undefined ? {} : { ipv6: canonicalIp(p.nextHop.ipv6) }),
            },
          }),
    })),
    advertisements: advertisementsOf(raw),
    drain: { ...DEFAULT_BGP_DRAIN, ...raw.drain },
  };
}

/**
 * The `l2:` section with its defaults. A peer named like this node is left out: the same section
 * is copied to every node, and a node is not its own peer.
 */
function l2Of(raw: RawL2, nodeName: string): L2Config {
  return {
    advertisements: raw.advertisements.map((a) => ({ pools: a.pools ?? [], interfaces: a.interfaces })),
    peers: (raw.peers ?? [])
      .filter((p) => p.name !== nodeName)
      .map((p) => ({ name: p.name, addresses: (p.addresses ?? (p.address === undefined ? [] : [p.address])).map(canonicalIp) })),
    announce: { ...DEFAULT_L2_ANNOUNCE, ...raw.announce },
    failbackHoldDownSeconds: raw.failbackHoldDownSeconds ?? DEFAULT_L2_FAILBACK_HOLD_DOWN_SECONDS,
    bfd: { ...DEFAULT_L2_BFD, ...raw.bfd },
  };
}

/**
 * Fills every default and canonicalises every address. Only called on data that passed the
 * schema and the semantic checks, so parsing here cannot fail.
 */
export function applyDefaults(raw: RawConfig, hostname: string): AgentConfig {
  const listen = raw.api?.listen ?? DEFAULT_LISTEN;
  const hostPort = splitHostPort(listen);
  if (typeof hostPort === 'string') throw new Error(`invariant: listen ${listen} passed the schema: ${hostPort}`);
  const snat = raw.dataplane?.snat ?? 'masquerade';
  const pools = (raw.pools ?? []).map(poolOf);
  const nodeName = raw.nodeName ?? hostname.toLowerCase();
  return {
    apiVersion: CONFIG_API_VERSION,
    kind: CONFIG_KIND,
    nodeName,
    api: { listen, host: canonicalIp(hostPort.host), port: hostPort.port },
    vipInterface: {
      name: raw.vipInterface?.name ?? DEFAULT_VIP_INTERFACE,
      addresses: (raw.vipInterface?.addresses ?? []).map(interfaceAddress),
      routes:
        raw.vipInterface?.routes?.map(canonicalCidr) ??
        unique(pools.flatMap((p) => p.addresses.flatMap((a) => rangeToCidrs(parseRange(a))))),
    },
    dataplane: {
      engine: raw.dataplane?.engine ?? 'nftables',
      snat,
      denySources: (raw.dataplane?.denySources ?? []).map(canonicalCidr),
      resyncSeconds: raw.dataplane?.resyncSeconds ?? DEFAULT_RESYNC_SECONDS,
      ...(raw.dataplane?.xdp === undefined
        ? {}
        : {
            xdp: {
              interfaces: raw.dataplane.xdp.interfaces,
              mode: raw.dataplane.xdp.mode ?? 'auto',
              forwarding: raw.dataplane.xdp.forwarding ?? 'nat',
              pinDir: raw.dataplane.xdp.pinDir ?? DEFAULT_XDP_PIN_DIR,
              snatAddresses: (raw.dataplane.xdp.snatAddresses ?? []).map(canonicalIp),
              mtu: raw.dataplane.xdp.mtu ?? DEFAULT_XDP_MTU,
              guePort: raw.dataplane.xdp.guePort ?? DEFAULT_XDP_GUE_PORT,
            },
          }),
    },
    pools,
    services: (raw.services ?? []).map((s) => serviceOf(s, snat)),
    ...(raw.bgp === undefined ? {} : { bgp: bgpOf(raw.bgp) }),
    ...(raw.l2 === undefined ? {} : { l2: l2Of(raw.l2, nodeName) }),
    kubernetes: { backends: raw.kubernetes?.backends ?? 'pods' },
  };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function canonicalCidr(text: string): string {
  return formatCidr(parseCidr(text));
}

function interfaceAddress(text: string): InterfaceAddress {
  const slash = text.indexOf('/');
  return { address: canonicalIp(text.slice(0, slash)), prefixLength: Number(text.slice(slash + 1)) };
}

/** A pool entry in canonical text: a CIDR stays a CIDR, a range stays a range. */
function canonicalPoolEntry(text: string): string {
  return text.includes('-') ? formatRange(parseRange(text)) : canonicalCidr(text);
}

function poolOf(raw: RawPool): Pool {
  return {
    name: raw.name,
    addresses: raw.addresses.map(canonicalPoolEntry),
    autoAssign: raw.autoAssign ?? true,
    avoidBuggyIPs: raw.avoidBuggyIPs ?? false,
    allowExternalIPs: raw.allowExternalIPs ?? false,
    namespaces: raw.namespaces ?? [],
    reserved: unique((raw.reserved ?? []).map(canonicalIp)),
    priority: raw.priority ?? 0,
  };
}

function portOf(raw: RawPort): PortConfig {
  return { name: raw.name ?? '', port: raw.port, protocol: raw.protocol ?? 'TCP', targetPort: raw.targetPort ?? raw.port };
}

function backendOf(raw: RawBackend): BackendConfig {
  return {
    address: canonicalIp(raw.address),
    weight: raw.weight ?? 1,
    state: raw.state ?? 'ready',
    ports: raw.ports ?? {},
  };
}

function serviceOf(raw: RawService, defaultSnat: 'masquerade' | 'none'): ServiceConfig {
  const ipFamilyPolicy = policyOf(raw.ipFamilyPolicy, raw.ipFamilies);
  return {
    name: raw.name,
    namespace: raw.namespace ?? DEFAULT_NAMESPACE,
    type: raw.type ?? 'ClusterIP',
    externalIPs: unique((raw.externalIPs ?? []).map(canonicalIp)),
    loadBalancerIPs: (raw.loadBalancerIPs ?? []).map(canonicalIp),
    ipFamilyPolicy,
    ipFamilies: familiesOf(ipFamilyPolicy, raw.ipFamilies),
    ...(raw.pool === undefined ? {} : { pool: raw.pool }),
    ...(raw.sharingKey === undefined ? {} : { sharingKey: raw.sharingKey }),
    ports: raw.ports.map(portOf),
    backends: (raw.backends ?? []).map(backendOf),
    sessionAffinity: raw.sessionAffinity ?? 'None',
    loadBalancerSourceRanges: (raw.loadBalancerSourceRanges ?? []).map(canonicalCidr),
    snat: raw.snat ?? defaultSnat,
  };
}
