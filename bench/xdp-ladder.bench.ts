// The packet ladder of issue 5: small UDP packets forwarded per second through an LB node on
// veth, for plain kernel routing (R0), vipgate nftables (R2), vipgate XDP native (R3) and XDP
// generic (R4), all in one run, rungs interleaved round by round; then the CPU nanoseconds per
// forwarded packet of R0/R2/R3 at one offered load that every rung carries.
//
//   client ─veth─ lb1 ─veth─ node1
//   trafgen       agent       XDP_DROP (counts), so the sink costs the same for every rung
//
// R0 sends to node1's own address (lb1 only routes); R2–R4 send to a VIP whose backend is
// node1's address, served by the real `vipgate agent` in lb1 (nat mode: DNAT + SNAT to lb1).
// 64 flows (source ports), 60-byte frames. Targets: R3/R2 ≥ 3, R3/R0 ≥ 1.5. A baseline rung B
// (lb1 drops at its ingress) gives what the generator and a veth hop cost, so the LB node's own
// cost per packet can be told apart from theirs (on veth all of it runs on the sending core).
// Run: npx tsx bench/xdp-ladder.bench.ts [--quick]
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../lab/lab.ts';
import { lbAgent, VIPGATE_BIN, type LbAgent } from '../lab/scenario.ts';
import { benchTopology } from '../lab/topologies.ts';
import { buildBpfObject } from '../src/dataplane/xdp/build.ts';
import { commandLine, formatTable, machine, verdict, writeResult } from './lib/report.ts';
import { median } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 5;
const WINDOW_MS = quick ? 1500 : 3000;
/** Offered load for the CPU-cost rows: below every rung's ceiling, so all carry all of it. */
const CPU_LOAD_PPS = 20_000;
const FLOWS = 64;
const VIP = '10.200.0.5';
const SINK = { v4: '10.180.1.21' };
const LB_DC = '10.180.1.16';
const TARGETS = { r3OverR2: 3, r3OverR0: 1.5 } as const;

type Rung = 'B' | 'R0' | 'R2' | 'R3' | 'R4';
const RUNGS: readonly Rung[] = ['B', 'R0', 'R2', 'R3', 'R4'];
const DESCRIPTION: Record<Rung, string> = {
  B: 'baseline: lb1 drops every packet at its ingress (XDP), nothing forwarded',
  R0: 'plain kernel routing, no LB',
  R2: 'vipgate nftables',
  R3: 'vipgate XDP native',
  R4: 'vipgate XDP generic',
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Per measurement, at most: ~10 s at the fastest rung seen (~700 kpps). */
const MAX_PACKETS = 7_000_000;

/**
 * trafgen sends from a forked worker per CPU, and its parent does not pass SIGINT on: the
 * worker is signalled by its PID (a child of the process this benchmark started), then the parent.
 */
/** CPU time (user + system) a process has used, in clock ticks. */
async function cpuTicks(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * Waits until a just-started agent stops working (TypeScript loading, JIT, its first passes):
 * the CPU rows count every core, and an agent still warming up was 10× the packets' own cost.
 */
async function settled(pid: number): Promise<void> {
  let last = await cpuTicks(pid);
  for (let i = 0; i < 40; i++) {
    await sleep(500);
    const now = await cpuTicks(pid);
    if (now - last <= 2) return;
    last = now;
  }
  throw new Error(`the agent (pid ${pid}) kept using CPU for 20 s`);
}

async function stopTrafgen(pid: number): Promise<void> {
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    // no children left: the run ended by itself
  }
  for (const child of children) {
    try {
      process.kill(child, 'SIGINT');
    } catch {
      // gone meanwhile
    }
  }
  await sleep(200);
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    // gone already
  }
}

const SINK_C = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
/* The ladder's sink: every frame is dropped in the driver hook, so the backend costs the same
 * for every rung and never answers (no ICMP port unreachable going back through the LB). */
SEC("xdp") int sink(struct xdp_md *ctx) { return XDP_DROP; }
char LICENSE[] SEC("license") = "GPL";
`;

function agentConfig(rung: Exclude<Rung, 'R0'>): string {
  const engine = rung === 'R2'
    ? '  engine: nftables\n'
    : `  engine: xdp\n  xdp: { interfaces: [cl], mode: ${rung === 'R3' ? 'native' : 'generic'}, snatAddresses: [${LB_DC}] }\n`;
  return `apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
nodeName: lb1
vipInterface: { name: vip0, addresses: [10.200.0.1/24], routes: [10.200.0.0/16] }
dataplane:
${engine}  snat: masquerade
  resyncSeconds: 300
pools:
  - { name: default, addresses: [10.200.0.0/16], allowExternalIPs: true }
services:
  - name: sink
    type: ClusterIP
    externalIPs: [${VIP}]
    ports: [{ name: discard, port: 9, protocol: UDP }]
    backends: [{ address: ${SINK.v4} }]
`;
}

/** trafgen's packet list: one 60-byte UDP frame per flow, checksums computed once by trafgen. */
function trafgenConfig(dstMac: string, dst: string): string {
  const packets: string[] = [];
  for (let i = 0; i < FLOWS; i++) {
    packets.push(`{ eth(da=${dstMac}), ipv4(sa=10.0.1.2, da=${dst}, ttl=64), udp(sp=${20_000 + i}, dp=9), fill(0x41, 18) }`);
  }
  return `${packets.join('\n')}\n`;
}

interface Stats {
  /** Per second, over the window. */
  readonly sentPackets: number;
  readonly sinkPackets: number;
  readonly cpuBusyNs: number;
}

async function main(): Promise<void> {
  const object = buildBpfObject();
  const lab = await Lab.up(benchTopology({ backends: 1 }));
  const removeHandlers = lab.removeOnSignals();
  const dir = await mkdtemp(join(tmpdir(), `${lab.prefix}-ladder-`));
  let agent: LbAgent | undefined;
  try {
    // The sink: an XDP_DROP program on node1's port (native; it also lets lb1's native XDP
    // redirect deliver there, which veth requires of the receiving side).
    const sinkSource = join(dir, 'sink.c');
    const sinkObject = join(dir, 'sink.o');
    await writeFile(sinkSource, SINK_C);
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-I/usr/include/x86_64-linux-gnu', '-c', sinkSource, '-o', sinkObject]);
    await lab.exec('node1', ['ip', 'link', 'set', 'dev', 'dc', 'xdpdrv', 'obj', sinkObject, 'sec', 'xdp']);
    // The sink answers nothing, ARP included: lb1 learns node1's MAC once, by hand.
    const sinkMac = (await lab.exec('node1', ['cat', '/sys/class/net/dc/address'])).trim();
    await lab.exec('lb1', ['ip', 'neigh', 'replace', SINK.v4, 'lladdr', sinkMac, 'dev', 'dc', 'nud', 'permanent']);
    const lbMac = (await lab.exec('lb1', ['cat', '/sys/class/net/cl/address'])).trim();
    // trafgen's checksums are complete; stack-made packets would carry partial ones (LAB-NOTES).
    await lab.exec('client', ['ethtool', '-K', 'cl', 'tx', 'off']);
    const configs = { R0: join(dir, 'r0.cfg'), VIP: join(dir, 'vip.cfg') };
    await writeFile(configs.R0, trafgenConfig(lbMac, SINK.v4));
    await writeFile(configs.VIP, trafgenConfig(lbMac, VIP));
    agent = await lbAgent(lab, 'lb1', dir, agentConfig('R2'));

    let counting: { host: string; dev: string } = { host: 'node1', dev: 'dc' };
    const sinkCount = async (): Promise<number> => {
      const text = await lab.exec(counting.host, ['ethtool', '-S', counting.dev]);
      return Number(/rx_queue_0_xdp_drops: (\d+)/.exec(text)?.[1] ?? 'NaN');
    };
    const sentCount = async (): Promise<number> => Number(await lab.exec('client', ['cat', '/sys/class/net/cl/statistics/tx_packets']));
    const cpuBusyNs = async (): Promise<number> => {
      // /proc/stat's first line: user nice system idle iowait irq softirq steal …, in USER_HZ.
      const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
      const busy = fields.reduce((a, b) => a + b, 0) - fields[3]! - fields[4]!;
      return (busy * 1e9) / 100;
    };

    const setUp = async (rung: Rung): Promise<void> => {
      if (rung === 'B') {
        await lab.exec('lb1', ['ip', 'link', 'set', 'dev', 'cl', 'xdpdrv', 'obj', sinkObject, 'sec', 'xdp']);
        counting = { host: 'lb1', dev: 'cl' };
        return;
      }
      if (rung === 'R0') return;
      await agent!.writeConfig(agentConfig(rung));
      await agent!.startAgent();
      await agent!.waitForServices((v) => v.services.length === 1, 20_000);
      await settled(agent!.agent.pid);
    };
    const tearDown = async (rung: Rung): Promise<void> => {
      if (rung === 'B') {
        await lab.exec('lb1', ['ip', 'link', 'set', 'dev', 'cl', 'xdpdrv', 'off']);
        counting = { host: 'node1', dev: 'dc' };
        return;
      }
      if (rung === 'R0') return;
      await agent!.stopAgent();
      // What an operator runs to take vipgate off a node: the table / program and the VIP interface go.
      await lab.exec('lb1', [VIPGATE_BIN, 'agent', '--config', agent!.configPath, '--state-file', join(dir, 'cleanup-state.json'), '--cleanup'], { timeoutMs: 30_000 });
      const link = await lab.exec('lb1', ['ip', '-d', 'link', 'show', 'cl']);
      if (/prog\/xdp/.test(link)) throw new Error(`--cleanup left an XDP program on lb1's cl:\n${link}`);
    };
    /** Runs trafgen (flat out, or at `pps`) and counts what the sink got in the middle of the run. */
    const measure = async (rung: Rung, pps?: number): Promise<Stats> => {
      // -n bounds the run even if a stop signal were lost (a few seconds at the fastest rung).
      const argv = ['trafgen', '-o', 'cl', '-i', rung === 'R0' || rung === 'B' ? configs.R0 : configs.VIP, '--cpus', '1', '-q', '-n', String(MAX_PACKETS), ...(pps === undefined ? [] : ['-b', `${pps}pps`])];
      const gen = await lab.spawn('client', argv);
      try {
        await sleep(500); // ramp-up: ARP-free path, flow entries, JIT caches
        const [s0, p0, c0] = [await sentCount(), await sinkCount(), await cpuBusyNs()];
        const t0 = performance.now();
        await sleep(WINDOW_MS);
        const [s1, p1, c1] = [await sentCount(), await sinkCount(), await cpuBusyNs()];
        const seconds = (performance.now() - t0) / 1000;
        if (process.env['LADDER_DEBUG'] !== undefined && pps === undefined) {
          for (const dev of ['cl', 'dc']) {
            const stats = (await lab.exec('lb1', ['ethtool', '-S', dev])).split('\n').filter((l) => /xdp|drop/.test(l) && !/: 0$/.test(l));
            console.log(`  ${rung} lb1 ${dev}: ${stats.map((l) => l.trim()).join(', ')}`);
          }
          console.log(`  ${rung} lb1 nstat: ${(await lab.exec('lb1', ['nstat', '-az', 'IpForwDatagrams', 'IpInDelivers', 'IpOutNoRoutes'])).split('\n').slice(1).map((l) => l.trim().replace(/\s+/g, ' ')).join('; ')}`);
        }
        return { sentPackets: (s1 - s0) / seconds, sinkPackets: (p1 - p0) / seconds, cpuBusyNs: (c1 - c0) / seconds };
      } finally {
        await stopTrafgen(gen.pid);
        await new Promise((r) => (gen.child.exitCode === null ? gen.child.once('exit', r) : r(undefined)));
      }
    };

    // Rounds: every rung once per round, the order rotated, so drift in the machine's load is shared.
    const pps: Record<Rung, number[]> = { B: [], R0: [], R2: [], R3: [], R4: [] };
    const cpu: Record<Rung, number[]> = { B: [], R0: [], R2: [], R3: [], R4: [] };
    const idle: number[] = [];
    const offered: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = RUNGS.map((_, i) => RUNGS[(i + round) % RUNGS.length]!);
      for (const rung of order) {
        await setUp(rung);
        try {
          const flat = await measure(rung);
          pps[rung].push(flat.sinkPackets);
          console.log(`round ${round + 1} ${rung}: ${(flat.sinkPackets / 1000).toFixed(0)} kpps flat out`);
          if (rung !== 'R4' && rung !== 'B') {
            const loaded = await measure(rung, CPU_LOAD_PPS);
            // trafgen's paced mode sends below the asked rate; what matters is that the rung
            // carried all that was sent, so that every rung did the same work.
            if (loaded.sinkPackets < loaded.sentPackets * 0.97) throw new Error(`${rung} forwarded ${loaded.sinkPackets.toFixed(0)} of ${loaded.sentPackets.toFixed(0)} pps sent: lower CPU_LOAD_PPS`);
            offered.push(loaded.sentPackets);
            cpu[rung].push(loaded.cpuBusyNs / loaded.sinkPackets);
          }
          if (rung !== 'R4' && rung !== 'B') console.log(`round ${round + 1} ${rung}: ${cpu[rung].at(-1)!.toFixed(0)} ns CPU per packet at ${CPU_LOAD_PPS / 1000} kpps`);
        } finally {
          await tearDown(rung);
        }
      }
      // The machine's own background, same window, no traffic: subtracted in the CPU rows' note.
      const c0 = await cpuBusyNs();
      await sleep(WINDOW_MS);
      idle.push(((await cpuBusyNs()) - c0) / (WINDOW_MS / 1000));
    }

    const m = (r: Rung): number => median(pps[r]);
    const c = (r: Rung): number => median(cpu[r]);
    const idleNsPerPacket = median(idle) / median(offered);
    // What the LB node itself costs per packet: the rung's time per packet minus the baseline's
    // (the generator, one veth hop and an XDP drop), the same for every rung. On veth the whole
    // path runs in the sending CPU's softirq, so a rung's rate is 1 / (generator + LB + sink).
    const lbNs = (r: Rung): number => 1e9 / m(r) - 1e9 / m('B');
    const rows = [
      ...RUNGS.map((r) => [`${r}: ${DESCRIPTION[r]} — ${r === 'B' ? 'dropped' : 'forwarded'}, kpps (median of ${ROUNDS})`, (m(r) / 1000).toFixed(0), '', '']),
      ['R3/R2', (m('R3') / m('R2')).toFixed(2), `≥ ${TARGETS.r3OverR2}`, verdict(m('R3') / m('R2'), TARGETS.r3OverR2, 'higher')],
      ['R3/R0', (m('R3') / m('R0')).toFixed(2), `≥ ${TARGETS.r3OverR0}`, verdict(m('R3') / m('R0'), TARGETS.r3OverR0, 'higher')],
      ['R4/R2', (m('R4') / m('R2')).toFixed(2), '', ''],
      ...(['R0', 'R2', 'R3', 'R4'] as const).map((r) => [`${r}: the LB node's own ns per packet (1/${r} − 1/B)`, lbNs(r).toFixed(0), '', '']),
      ['LB cost R2 / R3 (what XDP saves over nftables)', (lbNs('R2') / lbNs('R3')).toFixed(2), '', ''],
      ['LB cost R0 / R3 (what XDP saves over plain routing)', (lbNs('R0') / lbNs('R3')).toFixed(2), '', ''],
      ...(['R0', 'R2', 'R3'] as const).map((r) => [`${r}: CPU ns per forwarded packet at ${(median(offered) / 1000).toFixed(0)} kpps (all cores, generator and sink included)`, c(r).toFixed(0), '', '']),
      ['R2 − R3: CPU the XDP path saves per packet', (c('R2') - c('R3')).toFixed(0), '', ''],
      ['machine background at rest, as ns per packet of that load', idleNsPerPacket.toFixed(0), '', ''],
    ];
    console.log(`\nXDP packet ladder (${FLOWS} UDP flows, 60-byte frames, veth, trafgen on 1 core)`);
    console.log(formatTable(['measure', 'value', 'target', ''], rows));
    const path = writeResult('xdp-ladder', {
      benchmark: 'xdp-ladder', command: commandLine(), machine: machine(), object,
      kppsByRound: Object.fromEntries(RUNGS.map((r) => [r, pps[r].map((x) => Math.round(x / 100) / 10)])),
      cpuNsPerPacketByRound: Object.fromEntries((['R0', 'R2', 'R3'] as const).map((r) => [r, cpu[r].map((x) => Math.round(x))])),
      idleBusyNsPerSecond: idle.map(Math.round),
      offeredPpsForCpu: offered.map(Math.round),
      medians: { kpps: Object.fromEntries(RUNGS.map((r) => [r, Math.round(m(r) / 100) / 10])), cpuNsPerPacket: { R0: Math.round(c('R0')), R2: Math.round(c('R2')), R3: Math.round(c('R3')) } },
      ratios: { r3OverR2: m('R3') / m('R2'), r3OverR0: m('R3') / m('R0'), r4OverR2: m('R4') / m('R2') },
      lbNsPerPacket: Object.fromEntries((['R0', 'R2', 'R3', 'R4'] as const).map((r) => [r, Math.round(lbNs(r))])),
    });
    console.log(`\nwritten to ${path}`);
  } finally {
    await agent?.stopAgent();
    removeHandlers();
    await lab.down();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
