import { Allocator, allocateAll, type AllocationRequest } from '../ipam/index.ts';
import {
  buildServiceTable,
  readyBackends,
  type Pool,
  type ServiceProblem,
  type ServiceSpec,
  type ServiceTable,
  type ServiceVips,
} from '../model/index.ts';
import { AgentErrorCode } from './errors.ts';

/** What a source says the LB node should serve: cluster state plus this node's policy. */
export interface DesiredInput {
  readonly pools: readonly Pool[];
  readonly services: readonly ServiceSpec[];
  /** Client CIDRs never served (the cluster nodes). */
  readonly denySources: readonly string[];
}

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
function withClaimedExternalIPs(input: DesiredInput, previous: ReadonlyMap<string, readonly string[]>): Pool[] {
  const held = new Set([...previous.values()].flat());
  const claimed = [...new Set(input.services.flatMap((s) => s.externalIPs))].filter((a) => !held.has(a));
  if (claimed.length === 0) return [...input.pools];
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
 * Assigns LoadBalancer VIPs (keeping earlier assignments), checks every external IP against the
 * pools' policy, and expands the result into the service table. A Service that fails any step is
 * reported in `problems` and left out; it never stops the others.
 */
/**
 * The outcome of address assignment for one set of pools, requests and earlier assignments.
 * Most passes change only backends, so the agent keeps the last one and reuses it when its key
 * is unchanged: at 10,000 Services, allocation is the costliest part of a pass.
 */
export interface AllocationMemo {
  readonly key: string;
  readonly results: ReturnType<typeof allocateAll>;
  /** Holds every LoadBalancer address, for the externalIPs check. Only queried, never changed. */
  readonly allocator: Allocator;
}

function allocate(
  input: DesiredInput,
  loadBalancers: readonly ServiceSpec[],
  previous: ReadonlyMap<string, readonly string[]>,
  memo: AllocationMemo | undefined,
): AllocationMemo {
  const pools = withClaimedExternalIPs(input, previous);
  const requests = loadBalancers.map(requestFor);
  const key = JSON.stringify([input.pools, pools.map((p) => p.reserved), requests, [...previous]]);
  if (memo?.key === key) return memo;
  const results = allocateAll(pools, requests, previous);
  // The externalIPs check needs to know which addresses the LoadBalancers now hold.
  const allocator = new Allocator(input.pools);
  for (const request of requests) {
    const result = results.get(request.service);
    if (result?.ok === true) allocator.restore(request, result.addresses);
  }
  return { key, results, allocator };
}

export function computeDesiredState(
  input: DesiredInput,
  previous: ReadonlyMap<string, readonly string[]>,
  memo?: AllocationMemo,
): DesiredState & { readonly memo: AllocationMemo } {
  const problems: ServiceProblem[] = [];
  const loadBalancers = input.services.filter((s) => s.type === 'LoadBalancer');
  const allocation = allocate(input, loadBalancers, previous, memo);
  const { results, allocator } = allocation;
  const assignments = new Map<string, readonly string[]>();
  for (const service of loadBalancers) {
    const result = results.get(service.key);
    if (result === undefined) continue;
    if (result.ok) assignments.set(service.key, result.addresses);
    else problems.push({ service: service.key, code: AgentErrorCode.allocationFailed, message: result.error.message });
  }

  const vipsByService = new Map<string, ServiceVips>();
  const sorted = [...input.services].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const service of sorted) {
    const externalIPs: string[] = [];
    for (const address of service.externalIPs) {
      const verdict = allocator.externalIPAllowed(service.namespace, address, service.key);
      if (verdict.ok) externalIPs.push(address);
      else problems.push({ service: service.key, code: AgentErrorCode.externalIPRejected, message: verdict.error.message });
    }
    vipsByService.set(service.key, { loadBalancer: assignments.get(service.key) ?? [], externalIPs });
  }

  const built = buildServiceTable(input.services, vipsByService, input.denySources);
  problems.push(...built.problems);

  const servable = new Set<string>();
  for (const frontend of built.table.frontends) {
    if (readyBackends(frontend).length > 0) servable.add(frontend.family === 4 ? `${frontend.address}/32` : `${frontend.address}/128`);
  }
  return {
    table: built.table,
    assignments,
    advertisements: [...servable].sort(),
    problems,
    memo: allocation,
  };
}
