// Synthetic service tables for the benchmarks, built through the model (buildServiceTable) the
// way a source would, so the dataplane sees what it sees in production.
import { buildServiceTable, type Backend, type ServiceSpec, type ServiceTable, type ServiceVips } from '../../src/model/index.ts';
import { addToIp, formatIp, parseIp } from '../../src/net/index.ts';

/** The VIP the traffic benchmarks send to; synthetic services never take it. */
export const BENCH_VIP = '10.200.0.5';

const SYNTHETIC_BASE = parseIp('10.201.0.0');

/** The i-th synthetic VIP: 10.201.0.0/16 upwards, so it never clashes with BENCH_VIP. */
export function syntheticVip(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= 65_536) throw new RangeError(`synthetic VIP index must be 0..65535, got ${i}`);
  return formatIp(addToIp(SYNTHETIC_BASE, BigInt(i))!);
}

/** The j-th backend of synthetic service i, in 10.100.0.0/16 (never contacted). */
export function syntheticBackend(i: number, j: number, port = 8080): Backend {
  return { address: `10.100.${(i * 7 + j) % 250}.${(j % 250) + 1}`, port, weight: 1, state: 'ready' };
}

function spec(name: string, address: string, backends: readonly Backend[]): [ServiceSpec, ServiceVips] {
  return [
    {
      key: `bench/${name}`,
      namespace: 'bench',
      name,
      type: 'ClusterIP',
      externalIPs: [address],
      requestedIPs: [],
      ipFamilies: [4],
      ports: [{ name: 'http', port: 80, protocol: 'tcp', backends }],
      sessionAffinity: 'None',
      sourceRanges: [],
      // No SNAT: the same forwarding path as the routed (R0) and hand-written (R1) references.
      snat: 'none',
    },
    { loadBalancer: [], externalIPs: [address] },
  ];
}

export interface SyntheticOptions {
  /** Services besides the benchmark's own VIP. */
  readonly others: number;
  readonly backendsPerService: number;
  /** Backends of the service on BENCH_VIP (omit: no such service). */
  readonly benchBackends?: readonly Backend[];
  /** Replace backend j of synthetic service i (for the one-change measurement). */
  readonly override?: { readonly service: number; readonly backend: number; readonly with: Backend };
}

/** `others` services × `backendsPerService` backends, plus the benchmark VIP if asked. */
export function syntheticTable(options: SyntheticOptions): ServiceTable {
  const entries: [ServiceSpec, ServiceVips][] = [];
  if (options.benchBackends !== undefined) entries.push(spec('target', BENCH_VIP, options.benchBackends));
  for (let i = 0; i < options.others; i++) {
    const backends = Array.from({ length: options.backendsPerService }, (_, j) =>
      options.override?.service === i && options.override.backend === j ? options.override.with : syntheticBackend(i, j),
    );
    entries.push(spec(`svc-${i}`, syntheticVip(i), backends));
  }
  const built = buildServiceTable(
    entries.map(([s]) => s),
    new Map(entries.map(([s, v]) => [s.key, v])),
    [],
  );
  if (built.problems.length > 0) throw new Error(`synthetic table has problems: ${built.problems[0]!.message}`);
  return built.table;
}
