import { parseIp, type Family } from '../net/index.ts';
import { byClaimOrder, type Backend, type FrontendType, type Protocol, type ServiceSpec, type SessionAffinity, type SnatMode } from './service.ts';

/**
 * One entry of the service table: `VIP:port/proto` and where its traffic goes. This is what a
 * dataplane programs and what `vipgate service list` prints, one row each.
 */
export interface Frontend {
  /** `address:port/proto`, IPv6 in brackets: unique in a table, stable across passes. */
  readonly key: string;
  /** The Service it belongs to (`namespace/name`). */
  readonly service: string;
  readonly type: FrontendType;
  /** Canonical VIP text. */
  readonly address: string;
  readonly family: Family;
  readonly port: number;
  readonly protocol: Protocol;
  readonly backends: readonly Backend[];
  readonly sessionAffinity: SessionAffinity;
  /**
   * Client CIDRs of this frontend's family allowed in (`loadBalancerSourceRanges`), or 'any'.
   * An empty list admits nobody: a Service restricted to IPv4 clients is closed on its IPv6 VIP.
   */
  readonly allowedSources: readonly string[] | 'any';
  readonly snat: SnatMode;
}

/**
 * The whole desired dataplane state of an LB node. Plain data: sources and IPAM produce it,
 * every dataplane engine takes it whole and works out the difference with the kernel itself.
 */
export interface ServiceTable {
  /** Sorted by key. */
  readonly frontends: readonly Frontend[];
  /** Client CIDRs never served, whatever the Service says (by default the cluster nodes). */
  readonly denySources: readonly string[];
}

/** The VIPs a Service may be served on, after IPAM and the externalIPs policy. */
export interface ServiceVips {
  readonly loadBalancer: readonly string[];
  readonly externalIPs: readonly string[];
}

/** Something wrong with one Service; it is reported, and the others are served regardless. */
export interface ServiceProblem {
  readonly service: string;
  readonly code: string;
  readonly message: string;
}

export function frontendKey(address: string, port: number, protocol: Protocol): string {
  return address.includes(':') ? `[${address}]:${port}/${protocol}` : `${address}:${port}/${protocol}`;
}

export const EMPTY_TABLE: ServiceTable = { frontends: [], denySources: [] };

export interface BuiltTable {
  readonly table: ServiceTable;
  readonly problems: readonly ServiceProblem[];
}

/**
 * Frontends already expanded for a Service, keyed by the ServiceSpec object itself: sources hand
 * over the same object while a Service does not change (the Kubernetes source rebuilds only the
 * Service whose objects changed), so a pass over 10,000 Services expands only the changed ones
 * and the dataplanes can skip the rest on identity. Entries go with their ServiceSpec.
 */
export type FrontendCache = WeakMap<ServiceSpec, { readonly vips: ServiceVips; readonly frontends: readonly Frontend[] }>;

const byKeyOrder = <T extends { readonly key: string }>(a: T, b: T): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** The items sorted by key; the same array when it already is (the usual case: sources sort). */
export function sortedByKey<T extends { readonly key: string }>(items: readonly T[]): readonly T[] {
  for (let i = 1; i < items.length; i++) {
    if (items[i - 1]!.key > items[i]!.key) return [...items].sort(byKeyOrder);
  }
  return items;
}

/** True when both lists hold the same strings in the same order. */
export function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
const sameVips = (a: ServiceVips, b: ServiceVips): boolean => sameStrings(a.loadBalancer, b.loadBalancer) && sameStrings(a.externalIPs, b.externalIPs);

/** True when `order` holds exactly the keys of `byKey` (then it is their sorted order too). */
function sameKeySet(order: readonly Frontend[] | undefined, byKey: ReadonlyMap<string, Frontend>): order is readonly Frontend[] {
  if (order?.length !== byKey.size) return false;
  for (const f of order) if (!byKey.has(f.key)) return false;
  return true;
}

/** One Service's frontends, one per VIP × port (before clashes with other Services are settled). */
function expandService(service: ServiceSpec, vips: ServiceVips): Frontend[] {
  const out: Frontend[] = [];
  const typed: [string, FrontendType][] = [
    ...vips.loadBalancer.map((a): [string, FrontendType] => [a, 'LoadBalancer']),
    ...vips.externalIPs.map((a): [string, FrontendType] => [a, 'ExternalIPs']),
  ];
  for (const [address, type] of typed) {
    const family = parseIp(address).family;
    for (const port of service.ports) {
      out.push({
        key: frontendKey(address, port.port, port.protocol),
        service: service.key,
        type,
        address,
        family,
        port: port.port,
        protocol: port.protocol,
        // Backends of the other family can't be reached by DNAT from this VIP.
        backends: port.backends.filter((b) => b.address.includes(':') === (family === 6)),
        sessionAffinity: service.sessionAffinity,
        allowedSources:
          service.sourceRanges.length === 0
            ? 'any'
            : service.sourceRanges.filter((c) => c.includes(':') === (family === 6)),
        snat: service.snat,
      });
    }
  }
  return out;
}

/** Services in claim order (byClaimOrder); the same array when it already is. */
function inClaimOrder(services: readonly ServiceSpec[]): readonly ServiceSpec[] {
  for (let i = 1; i < services.length; i++) {
    if (byClaimOrder(services[i - 1]!, services[i]!) > 0) return [...services].sort(byClaimOrder);
  }
  return services;
}

/**
 * Expands Services and their VIPs into frontends, one per VIP × port. When two Services claim
 * the same `VIP:port/proto`, the first holder keeps it (byClaimOrder: never a later claimant
 * because of its name) and the other gets a problem: a clash never takes both down. With a `cache`, a Service whose spec object and VIPs are unchanged
 * reuses its earlier Frontend objects (the result is the same either way).
 */
export function buildServiceTable(
  services: readonly ServiceSpec[],
  vipsByService: ReadonlyMap<string, ServiceVips>,
  denySources: readonly string[],
  cache?: FrontendCache,
  /** The last table's frontends (sorted): when the keys are the same, their order is reused. */
  previousOrder?: readonly Frontend[],
): BuiltTable {
  const byKey = new Map<string, Frontend>();
  const problems: ServiceProblem[] = [];
  for (const service of inClaimOrder(services)) {
    const vips = vipsByService.get(service.key);
    if (vips === undefined) continue;
    const cached = cache?.get(service);
    let frontends: readonly Frontend[];
    if (cached !== undefined && sameVips(cached.vips, vips)) frontends = cached.frontends;
    else {
      frontends = expandService(service, vips);
      cache?.set(service, { vips, frontends });
    }
    for (const frontend of frontends) {
      const holder = byKey.get(frontend.key);
      if (holder !== undefined) {
        if (holder.service !== service.key) {
          problems.push({
            service: service.key,
            code: 'FRONTEND_CLASH',
            message: `${frontend.key} is held by ${holder.service}, which claimed it first; not served for ${service.key}`,
          });
        }
        continue;
      }
      byKey.set(frontend.key, frontend);
    }
  }
  const frontends = sameKeySet(previousOrder, byKey) ? previousOrder.map((f) => byKey.get(f.key)!) : [...byKey.values()].sort(byKeyOrder);
  return { table: { frontends, denySources: [...denySources] }, problems };
}

/** Backends that may take new flows. */
export function readyBackends(frontend: Frontend): readonly Backend[] {
  return frontend.backends.filter((b) => b.state === 'ready');
}
