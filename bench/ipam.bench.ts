// IPAM speed: 10,000 Services in a /16 (65,536 addresses), ours against a naive allocator that
// scans from the bottom for every Service. Run: npx tsx bench/ipam.bench.ts
import { performance } from 'node:perf_hooks';
import type { Pool } from '../src/model/index.ts';
import { Allocator, allocateAll, type AllocationRequest } from '../src/ipam/index.ts';

const SERVICES = 10_000;
const RUNS = 5;

const pools: Pool[] = [
  {
    name: 'default',
    addresses: ['10.200.0.0/16', 'fd00:200::/64'],
    autoAssign: true,
    avoidBuggyIPs: true,
    allowExternalIPs: false,
    namespaces: [],
    reserved: ['10.200.0.1'],
    priority: 0,
  },
];

function requests(count: number, families: AllocationRequest['families'], prefix = 'svc'): AllocationRequest[] {
  return Array.from({ length: count }, (_, i) => ({
    service: `ns${i % 50}/${prefix}-${i}`,
    namespace: `ns${i % 50}`,
    families,
    requested: [],
    ports: [{ port: 80, protocol: 'tcp' as const }],
  }));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function time(name: string, run: () => void): number {
  run(); // warm-up: JIT and caches, so the runs below measure steady state
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    run();
    samples.push(performance.now() - start);
  }
  const ms = median(samples);
  console.log(`${name.padEnd(58)} ${ms.toFixed(1).padStart(8)} ms  (median of ${RUNS})`);
  return ms;
}

/** The reference: lowest free address by scanning from the bottom each time. */
function naiveAllocate(count: number): void {
  const first = (10 << 24) | (200 << 16);
  const used = new Set<number>([first, first + 1, first + 65535]);
  for (let i = 0; i < count; i++) {
    let v = first;
    while (used.has(v) || (v & 0xff) === 0 || (v & 0xff) === 255) v++;
    used.add(v);
  }
}

const v4 = requests(SERVICES, [4]);
const dual = requests(SERVICES, [4, 6]);

const ours = time(`Allocator.allocate, ${SERVICES} IPv4 services in a /16`, () => {
  const ipam = new Allocator(pools);
  for (const r of v4) if (!ipam.allocate(r).ok) throw new Error(`${r.service} not allocated`);
});
const naive = time(`naive bottom-up scan, ${SERVICES} IPv4 services in a /16`, () => naiveAllocate(SERVICES));
time(`Allocator.allocate, ${SERVICES} dual-stack services (/16 + /64)`, () => {
  const ipam = new Allocator(pools);
  for (const r of dual) if (!ipam.allocate(r).ok) throw new Error(`${r.service} not allocated`);
});
const firstPass = allocateAll(pools, dual, new Map());
const previous = new Map<string, readonly string[]>();
for (const [service, result] of firstPass) if (result.ok) previous.set(service, result.addresses);
const restarted = [...dual].reverse().concat(requests(100, [4, 6], 'new'));
time(`allocateAll after restart: ${SERVICES} restored + 100 new, dual-stack`, () => {
  allocateAll(pools, restarted, previous);
});
console.log(`ratio naive/ours (IPv4): ${(naive / ours).toFixed(1)}x`);
