import { isDeepStrictEqual } from 'node:util';
import type { Family } from '../net/index.ts';

/** L4 protocols a frontend can carry. */
export const Protocols = ['tcp', 'udp'] as const;
export type Protocol = (typeof Protocols)[number];

/**
 * How a Service asked for its VIP, as `vipgate service list` shows it:
 * the user named it in `spec.externalIPs`, or it is the Service's load-balancer address.
 */
export type FrontendType = 'ExternalIPs' | 'LoadBalancer';

/** Backend choice for new flows: any backend, or one fixed by the client's address. */
export type SessionAffinity = 'None' | 'ClientIP';

/**
 * Source NAT on the way to a backend. `masquerade`: the LB node's address, so backends need
 * no route back to clients. `none`: the client's address is kept, and backends must route
 * replies back through the LB node.
 */
export type SnatMode = 'masquerade' | 'none';

/**
 * Whether an endpoint takes traffic. `ready`: new and existing flows. `terminating`: it is
 * shutting down; existing flows drain to it, new flows go elsewhere (EndpointSlice
 * `serving && terminating`).
 */
export type BackendState = 'ready' | 'terminating';

export interface Backend {
  /** Canonical IP text (see net/formatIp). */
  readonly address: string;
  readonly port: number;
  /** Relative share of new flows; 1 unless configured. */
  readonly weight: number;
  readonly state: BackendState;
}

export interface ServicePort {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
  /** Backends for this port (their own target ports already resolved). */
  readonly backends: readonly Backend[];
}

/**
 * A Service as a source describes it, before VIPs are assigned: the requested addresses and
 * the ports with their backends. Kubernetes and the standalone file both produce this shape.
 */
export interface ServiceSpec {
  /** `namespace/name`: unique, stable, used as the key everywhere. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly type: 'ClusterIP' | 'LoadBalancer';
  /** Addresses named in `spec.externalIPs`: served only where a pool allows it. */
  readonly externalIPs: readonly string[];
  /** For LoadBalancer: addresses asked for (empty: IPAM picks). */
  readonly requestedIPs: readonly string[];
  /** For LoadBalancer: which families get a VIP (dual-stack: both). */
  readonly ipFamilies: readonly Family[];
  /** For LoadBalancer: the pool to take addresses from (default: any pool that auto-assigns). */
  readonly pool?: string;
  /** Services with the same sharing key may share a VIP if their ports do not clash. */
  readonly sharingKey?: string;
  readonly ports: readonly ServicePort[];
  readonly sessionAffinity: SessionAffinity;
  /** CIDRs allowed to reach the VIPs; empty means everyone (except the deny list). */
  readonly sourceRanges: readonly string[];
  readonly snat: SnatMode;
  /**
   * How long this Service has held its addresses, so that when two claim one `VIP:port/proto`
   * the first holder keeps it (never the later claimant, whatever its name). Absent: the claim
   * ranks last (ties, and the file source, by key).
   */
  readonly claim?: AddressClaim;
}

/**
 * Where a Service stands in the queue for its addresses, from state that survives restarts
 * (the API objects, not a process's memory): a Service already confirmed as holding them ranks
 * before any that is not; then the earlier `since` (ms since the epoch) — when its holding was
 * confirmed, or when it was created.
 */
export interface AddressClaim {
  readonly holding: boolean;
  readonly since: number;
}

/** Anything with a key and perhaps a claim: a ServiceSpec, or the controller's view of a Service. */
export interface Claimant {
  readonly key: string;
  readonly claim?: AddressClaim | undefined;
}

/** Claim order: holders first, then the earlier `since`, then the key; no claim ranks last. */
export function byClaimOrder(a: Claimant, b: Claimant): number {
  const ca = a.claim;
  const cb = b.claim;
  if (ca !== undefined && cb !== undefined) {
    if (ca.holding !== cb.holding) return ca.holding ? -1 : 1;
    if (ca.since !== cb.since) return ca.since - cb.since;
  } else if (ca !== cb) return ca === undefined ? 1 : -1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** Service key for a namespace and name. */
export function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * `next` with each spec that equals the previous spec of its key replaced by that previous
 * object. Passes reuse their work by object identity (allocation requests, rendered frontends),
 * so a source that rebuilds every spec — a file reload — hands on the old objects where nothing
 * changed, as a Kubernetes informer does, and a one-service edit costs one service's work.
 */
export function reuseUnchangedSpecs(previous: ReadonlyMap<string, ServiceSpec>, next: readonly ServiceSpec[]): ServiceSpec[] {
  return next.map((spec) => {
    const old = previous.get(spec.key);
    return old !== undefined && (old === spec || isDeepStrictEqual(old, spec)) ? old : spec;
  });
}
