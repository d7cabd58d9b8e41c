// XDP dataplane: per-packet cost in the kernel (BPF_PROG_TEST_RUN on the real program, maps
// written by xdpDataplane) and the control plane (10,000 services × 10 backends with Maglev rings
// into the maps; one backend change at that size). Private bpffs mount, no interfaces, no FIB
// lookup (`fib: false`): the numbers are the program's parse + lookups + translation, without the
// FIB helper and the transmit, which BPF_PROG_TEST_RUN can't do on a real path.
// Targets: established flow ≤ 100 ns/packet; 10k × 10 written ≤ 3 s; one change ≤ 50 ms.
// The veth packet-rate ladder (R0/R2/R3/R4) and CPU ns per forwarded packet: bench/xdp-ladder.bench.ts.
// Run: npx tsx bench/xdp.bench.ts [--quick]
import { join } from 'node:path';
import type { ServiceTable } from '../src/model/index.ts';
import { xdpDataplane } from '../src/dataplane/xdp/index.ts';
import { packet } from '../test/support/xdp-packets.ts';
import { commandLine, formatTable, machine, verdict, writeResult } from './lib/report.ts';
import { median } from './lib/stats.ts';
import { BENCH_VIP, syntheticBackend, syntheticTable } from './lib/tables.ts';
import { mountPrivateBpffs } from '../test/support/bpffs.ts';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 7;
const REPEAT = quick ? 200_000 : 1_000_000;
const NEW_FLOWS = quick ? 500 : 3000;
const SERVICES = 10_000;
const BACKENDS = 10;
const TARGETS = { establishedNs: 100, coldMs: 3000, changeMs: 50 } as const;
const LB = { v4: '10.180.1.16', v6: 'fd00:180:1::16' };

async function perPacket(pinDir: string): Promise<{ newFlowNs: number; establishedNs: number; nonVipNs: number; clockNs: number; establishedColdNs: number }> {
  const dp = xdpDataplane({ interfaces: [], mode: 'generic', forwarding: 'nat', pinDir, snatAddresses: LB, fib: false });
  try {
    // With `repeat`, the kernel runs the program again and again on the same buffer, which the
    // first run rewrote: a packet DNATed to a backend is no longer VIP traffic, and until session
    // 2 the "established" row measured non-VIP packets. Here the benchmark VIP's only backend is
    // the VIP itself on the same port, so the rewrite writes the bytes that are there and every
    // repeat is the same established VIP packet, through the whole nat path (flow hit, rewrite,
    // incremental checksums, counters). The VIP's packet counter proves it: +REPEAT per run.
    const self = { address: BENCH_VIP, port: 80, weight: 1, state: 'ready' as const };
    const table: ServiceTable = syntheticTable({ others: 100, backendsPerService: BACKENDS, benchBackends: [self] });
    await dp.apply(table);
    const established = packet({ src: '10.0.1.2', dst: BENCH_VIP, sport: 40_000, dport: 80, protocol: 'tcp', tcpFlags: 0x10 });
    const nonVip = packet({ src: '10.0.1.2', dst: '10.0.1.1', sport: 40_000, dport: 22, protocol: 'tcp', tcpFlags: 0x10 });
    if (dp.testRun(established).verdict !== 'XDP_PASS') throw new Error('the benchmark VIP is not translated');
    const vipPackets = async (): Promise<bigint> => [...(await dp.counters()).entries()].find(([key]) => key.startsWith(`${BENCH_VIP}:80/`))?.[1].packets ?? -1n;
    const est: number[] = [];
    const non: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Interleaved, so that drift in the machine's load hits both alike.
      const before = await vipPackets();
      est.push(dp.testRun(established, REPEAT).durationNs);
      const counted = (await vipPackets()) - before;
      if (counted !== BigInt(REPEAT)) throw new Error(`the established run counted ${counted} VIP packets, not ${REPEAT}: it did not measure the VIP path`);
      non.push(dp.testRun(nonVip, REPEAT).durationNs);
    }
    // Single runs (one syscall each, a fresh copy of the packet) start with cold caches and
    // include the kernel's two clock reads; that overhead is measured on the non-VIP packet.
    const SINGLE = quick ? 2_000 : 10_000;
    const estCold: number[] = [];
    const nonCold: number[] = [];
    for (let i = 0; i < SINGLE; i++) {
      estCold.push(dp.testRun(established).durationNs);
      nonCold.push(dp.testRun(nonVip).durationNs);
    }
    const clockNs = Math.max(0, median(nonCold) - median(non));
    // A new flow is a packet the connection table has not seen: one run each, every one from
    // another client port.
    const fresh: number[] = [];
    for (let i = 0; i < NEW_FLOWS; i++) {
      const p = packet({ src: `10.0.${2 + (i >> 8)}.${i & 0xff}`, dst: BENCH_VIP, sport: 1024 + i, dport: 80, protocol: 'tcp' });
      fresh.push(dp.testRun(p).durationNs);
    }
    return { newFlowNs: median(fresh) - clockNs, establishedNs: median(est), nonVipNs: median(non), clockNs, establishedColdNs: median(estCold) - clockNs };
  } finally {
    await dp.cleanup();
  }
}

async function controlPlane(pinDir: string): Promise<{ coldMs: number; noopMs: number; changeMs: number[] }> {
  const dp = xdpDataplane({ interfaces: [], mode: 'generic', forwarding: 'nat', pinDir, snatAddresses: LB, fib: false });
  try {
    const table = syntheticTable({ others: SERVICES, backendsPerService: BACKENDS });
    const cold = await dp.apply(table);
    const noop = await dp.apply(table, { resync: true });
    const changeMs: number[] = [];
    for (let r = 0; r < (quick ? 3 : 10); r++) {
      // One backend of one service replaced, then put back: each apply is one change.
      const changed = syntheticTable({ others: SERVICES, backendsPerService: BACKENDS, override: { service: r * 997, backend: 3, with: syntheticBackend(50_000 + r, 0, 9090) } });
      const report = await dp.apply(changed);
      if (report.frontendsWritten !== 1) throw new Error(`one backend change wrote ${report.frontendsWritten} frontends`);
      changeMs.push(report.durationMs);
      changeMs.push((await dp.apply(table)).durationMs);
    }
    return { coldMs: cold.durationMs, noopMs: noop.durationMs, changeMs };
  } finally {
    await dp.cleanup();
  }
}

const fs = mountPrivateBpffs('vgtxdp-bench-');
try {
  const pkt = await perPacket(join(fs.dir, 'packet'));
  const cp = await controlPlane(join(fs.dir, 'control'));
  const changeMedian = median(cp.changeMs);
  const changeMax = Math.max(...cp.changeMs);
  console.log(
    formatTable(
      ['BPF_PROG_TEST_RUN, v4 TCP, nat (DNAT, no SNAT), no FIB', 'ns/packet', 'target', ''],
      [
        ['established flow (repeat runs, warm; VIP counter checked)', pkt.establishedNs.toFixed(0), `≤ ${TARGETS.establishedNs}`, verdict(pkt.establishedNs, TARGETS.establishedNs, 'lower')],
        ['non-VIP packet, XDP_PASS (repeat runs, interleaved with the row above)', pkt.nonVipNs.toFixed(0), '', ''],
        ['established flow, single runs (cold caches), clock reads subtracted', pkt.establishedColdNs.toFixed(0), '', ''],
        ['new flow (Maglev pick, flow + reply entries), single runs, clock reads subtracted', pkt.newFlowNs.toFixed(0), '', ''],
        ['… the kernel\'s clock reads + cold start of a single run (subtracted above)', pkt.clockNs.toFixed(0), '', ''],
      ],
    ),
  );
  console.log();
  console.log(
    formatTable(
      [`control plane, ${SERVICES} services × ${BACKENDS} backends`, 'ms', 'target', ''],
      [
        ['cold write (maps empty, Maglev rings computed)', cp.coldMs.toFixed(0), `≤ ${TARGETS.coldMs}`, verdict(cp.coldMs, TARGETS.coldMs, 'lower')],
        ['resync that finds nothing to do', cp.noopMs.toFixed(1), '', ''],
        [`one backend change (median of ${cp.changeMs.length})`, changeMedian.toFixed(1), `≤ ${TARGETS.changeMs}`, verdict(changeMedian, TARGETS.changeMs, 'lower')],
        ['one backend change (worst)', changeMax.toFixed(1), '', ''],
      ],
    ),
  );
  const path = writeResult('xdp', {
    benchmark: 'xdp',
    command: commandLine(),
    machine: machine(),
    rounds: ROUNDS,
    repeat: REPEAT,
    perPacketNs: pkt,
    controlPlane: { ...cp, changeMedianMs: changeMedian, services: SERVICES, backendsPerService: BACKENDS },
    targets: TARGETS,
  });
  console.log(`\n${path}`);
} finally {
  fs.unmount();
}
