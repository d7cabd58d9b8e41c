import { Allocator, allocateAll, type AllocationRequest } from '../ipam/index.ts';
import {
  buildServiceTable,
  sameStrings,
  sortedByKey,
  type DesiredInput,
  type Frontend,
  type FrontendCache,
  type Pool,
  type ServiceProblem,
  type ServiceSpec,
  type ServiceTable,
  type ServiceVips,
} from '../model/index.ts';
import { AgentErrorCode } from './errors.ts';

export type { DesiredInput } from '../model/index.ts';


/** One pass's whole desired state, computed purely from the input and earlier assignments. */
export interface DesiredState {
  readonly table: ServiceTable;
  /** LoadBalancer addresses by service key: persisted so a restart never moves an address. */
  readonly assignments: ReadonlyMap<string, readonly string[]>;
  /** Host prefixes (/32, /128) of VIPs that have at least one ready backend. */
  readonly advertisements: readonly string[];
  readonly problems: readonly ServiceProblem[];
}

/**
 * Addresses named in `spec.externalIPs` are kept out of automatic allocation, so a LoadBalancer
 * never gets an address another Service is already served on. An address a LoadBalancer held
 * first stays with it (the externalIPs claim is then the one refused).
 */
function withClaimedExternalIPs(input: DesiredInput, previous: ReadonlyMap<string, readonly string[]>): readonly Pool[] {
  const claimedAll = new Set<string>();
  for (const s of input.services) for (const a of s.externalIPs) claimedAll.add(a);
  if (claimedAll.size === 0) return input.pools;
  const held = new Set<string>();
  for (const addresses of previous.values()) for (const a of addresses) held.add(a);
  const claimed = [...claimedAll].filter((a) => !held.has(a));
  if (claimed.length === 0) return input.pools;
  return input.pools.map((pool) => ({ ...pool, reserved: [...pool.reserved, ...claimed] }));
}

function requestFor(service: ServiceSpec): AllocationRequest {
  return {
    service: service.key,
    namespace: service.namespace,
    families: service.ipFamilies,
    requested: service.requestedIPs,
    ...(service.pool === undefined ? {} : { pool: service.pool }),
    ...(service.sharingKey === undefined ? {} : { sharingKey: service.sharingKey }),
    ports: service.ports.map((p) => ({ port: p.port, protocol: p.protocol })),
  };
}

/**
 * A Service's allocation request and its text, per ServiceSpec object: a spec is immutable, and
 * sources keep the object while the Service is unchanged, so most passes build neither.
 */
const requests = new WeakMap<ServiceSpec, { readonly request: AllocationRequest; readonly text: string }>();
function cachedRequest(service: ServiceSpec): { readonly request: AllocationRequest; readonly text: string } {
  let r = requests.get(service);
  if (r === undefined) {
    const request = requestFor(service);
    r = { request, text: JSON.stringify(request) };
    requests.set(service, r);
  }
  return r;
}

/**
 * The outcome of address assignment for one set of pools, requests and earlier assignments,
 * and the frontends expanded per Service. Most passes change only backends, so the agent keeps
 * the last memo and reuses what did not change: at 10,000 Services, allocation and expansion
 * were most of a pass (docs/design/000-foundation.md, "incremental passes").
 */
export interface AllocationMemo {
  readonly pools: string;
  readonly requests: readonly string[];
  readonly previous: ReadonlyMap<string, readonly string[]>;
  /** The assignments these results make: the next pass's `previous` when nothing moved. */
  readonly assigned: ReadonlyMap<string, readonly string[]>;
  readonly results: ReturnType<typeof allocateAll>;
  /** The LoadBalancer Services whose allocation failed, with why (the rest are in `assigned`). */
  readonly failures: readonly ServiceProblem[];
  /** Holds every LoadBalancer address, for the externalIPs check. Only queried, never changed. */
  readonly allocator: Allocator;
  readonly frontends: FrontendCache;
  /** Each Service's VIPs as last handed to the table, reused while they are the same arrays. */
  readonly vips: WeakMap<ServiceSpec, ServiceVips>;
  /** The last pass's table and advertisements, for what can be reused when little changed. */
  readonly last: { frontends?: readonly Frontend[]; advertisements?: readonly string[] };
}


/** True when both hold the same addresses for the same Services. */
export function sameAssignments(a: ReadonlyMap<string, readonly string[]>, b: ReadonlyMap<string, readonly string[]>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [key, addresses] of a) {
    const other = b.get(key);
    if (other === undefined || !sameStrings(other, addresses)) return false;
  }
  return true;
}

function allocate(
  input: DesiredInput,
  loadBalancers: readonly ServiceSpec[],
  previous: ReadonlyMap<string, readonly string[]>,
  memo: AllocationMemo | undefined,
): AllocationMemo {
  // Claimed external IPs only keep LoadBalancers off them: with none to allocate, the pools as
  // given, so adding or removing an externalIPs service does not redo the allocation.
  const pools = loadBalancers.length === 0 ? input.pools : withClaimedExternalIPs(input, previous);
  const poolsText = JSON.stringify([input.pools, pools.map((p) => p.reserved)]);
  const cached = loadBalancers.map(cachedRequest);
  const texts = cached.map((r) => r.text);
  if (memo !== undefined && memo.pools === poolsText && sameStrings(memo.requests, texts) &&
    (sameAssignments(memo.assigned, previous) || sameAssignments(memo.previous, previous))) {
    return memo;
  }
  const list = cached.map((r) => r.request);
  const results = allocateAll(pools, list, previous);
  // The externalIPs check needs to know which addresses the LoadBalancers now hold.
  const allocator = new Allocator(input.pools);
  const assigned = new Map<string, readonly string[]>();
  const failures: ServiceProblem[] = [];
  for (const request of list) {
    const result = results.get(request.service);
    if (result === undefined) continue;
    if (!result.ok) {
      failures.push({ service: request.service, code: AgentErrorCode.allocationFailed, message: result.error.message });
      continue;
    }
    allocator.restore(request, result.addresses);
    assigned.set(request.service, result.addresses);
  }
  return {
    pools: poolsText, requests: texts, previous, assigned, failures, results, allocator,
    frontends: memo?.frontends ?? new WeakMap(), vips: memo?.vips ?? new WeakMap(), last: memo?.last ?? {},
  };
}

/**
 * Assigns LoadBalancer VIPs (keeping earlier assignments), checks every external IP against the
 * pools' policy, and expands the result into the service table. A Service that fails any step is
 * reported in `problems` and left out; it never stops the others. `memo` (the last pass's) only
 * saves work: the result is the same without it.
 */
export function computeDesiredState(
  input: DesiredInput,
  previous: ReadonlyMap<string, readonly string[]>,
  memo?: AllocationMemo,
): DesiredState & { readonly memo: AllocationMemo } {
  const problems: ServiceProblem[] = [];
  const services = sortedByKey(input.services);
  const loadBalancers = services.filter((s) => s.type === 'LoadBalancer');
  const allocation = allocate(input, loadBalancers, previous, memo);
  const { allocator } = allocation;
  // The same map, and the same address arrays, while the allocation is reused (most passes).
  const assignments = allocation.assigned;
  problems.push(...allocation.failures);

  const vipsByService = new Map<string, ServiceVips>();
  for (const service of services) {
    let externalIPs = NONE;
    if (service.externalIPs.length > 0) {
      const allowed: string[] = [];
      for (const address of service.externalIPs) {
        const verdict = allocator.externalIPAllowed(service.namespace, address, service.key);
        if (verdict.ok) allowed.push(address);
        else problems.push({ service: service.key, code: AgentErrorCode.externalIPRejected, message: verdict.error.message });
      }
      externalIPs = allowed;
    }
    const loadBalancer = assignments.get(service.key) ?? NONE;
    // Reused while equal, so the table's per-Service cache finds them the same at a glance.
    const last = allocation.vips.get(service);
    let vips: ServiceVips;
    if (last !== undefined && last.loadBalancer === loadBalancer && sameStrings(last.externalIPs, externalIPs)) vips = last;
    else {
      vips = { loadBalancer, externalIPs };
      allocation.vips.set(service, vips);
    }
    vipsByService.set(service.key, vips);
  }

  const built = buildServiceTable(services, vipsByService, input.denySources, allocation.frontends, allocation.last.frontends);
  problems.push(...built.problems);

  const advertisements = advertisementsOf(built.table.frontends, allocation.last);
  allocation.last.frontends = built.table.frontends;
  allocation.last.advertisements = advertisements;
  return { table: built.table, assignments, advertisements, problems, memo: allocation };
}

const NONE: readonly string[] = [];

const servable = (f: Frontend): boolean => f.backends.some((b) => b.state === 'ready');

/**
 * Host prefixes of the VIPs with a ready backend, sorted. The last pass's list is reused when
 * the frontends are the same keys in the same order and none changed whether it is servable
 * (most passes: a backend list changed); otherwise it is built again.
 */
function advertisementsOf(frontends: readonly Frontend[], last: AllocationMemo['last']): readonly string[] {
  const before = last.frontends;
  if (before?.length === frontends.length && last.advertisements !== undefined) {
    let same = true;
    for (let i = 0; i < frontends.length && same; i++) {
      const a = before[i]!;
      const b = frontends[i]!;
      same = a === b || (a.key === b.key && servable(a) === servable(b));
    }
    if (same) return last.advertisements;
  }
  const prefixes = new Set<string>();
  for (const f of frontends) if (servable(f)) prefixes.add(f.family === 4 ? `${f.address}/32` : `${f.address}/128`);
  return [...prefixes].sort();
}
