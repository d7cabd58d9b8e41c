// BGP, against the real BIRD 2 as the router (issue 3's benchmarks):
//  1. bulk: 10,000 /32s announced → all in the router's kernel table; vipgate's speaker vs a second
//     BIRD announcing the same routes from the same LB namespace, interleaved rounds, medians and
//     the paired ratio. Targets: ours ≤ 1.5× BIRD and ≤ 1 s.
//  2. one VIP: its only backend becomes ready (config edit on the agent) → the route in the
//     router's kernel (`ip monitor route`), p50/p99. Target p99 ≤ 200 ms.
//  3. failover, hold time 3 s: lb1's cable out → the client's requests all through lb2.
//  4. failover with BFD (300 ms × 3): lb1's agent frozen (`kill -STOP`) → requests all through lb2.
// Run: npx tsx bench/bgp.bench.ts [--quick] [--only bfd]
import { readFile } from 'node:fs/promises';
import { DEMO } from '../lab/topologies.ts';
import { routerBirdConfig, startBird } from '../lab/bird.ts';
import { Lab } from '../lab/lab.ts';
import { runCommand } from '../lab/run.ts';
import { failoverGap, type FlowSample } from '../lab/probe.ts';
import { bgpDemoConfig, measureCableFailover, startBgpWalkthrough } from '../lab/scenario-bgp.ts';
import type { Topology } from '../lab/topology.ts';
import { SpeakerChild } from '../test/support/bgp-lab.ts';
import { commandLine, formatTable, machine, verdict, writeResult } from './lib/report.ts';
import { monitorLines, sleep, until } from './lib/wait.ts';
import { median, pairedRatio, percentile, summarize } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const BULK_ROUNDS = quick ? 2 : 5;
const BULK_ROUTES = 10_000;
const READY_TRIALS = quick ? 20 : 100;
const FAILOVER_ROUNDS = quick ? 1 : 3;
const HOLD_SECONDS = 3;
const BFD_ROUNDS = quick ? 3 : 10;
const BFD = { minTxMs: 300, minRxMs: 300, multiplier: 3 } as const;
const onlyBfd = process.argv.includes('--only') && process.argv.includes('bfd');


// ── 1. bulk ────────────────────────────────────────────────────────────────────────────────

const ROUTER = '10.180.1.1';
const LB = '10.180.1.16';
const bulkTopology: Topology = {
  hosts: [{ name: 'router', forwarding: true }, { name: 'lb1' }],
  segments: [{ name: 'dc', members: [{ host: 'router', addresses: [`${ROUTER}/24`] }, { host: 'lb1', addresses: [`${LB}/24`] }] }],
};
const prefixes = Array.from({ length: BULK_ROUTES }, (_, i) => `10.201.${(i + 1) >> 8}.${(i + 1) & 255}/32`);

/** The reference: BIRD in the LB namespace exporting the same routes as static blackholes (next hop self). */
function lbBirdConfig(): string {
  return `router id ${LB};
protocol device { scan time 10; }
protocol static s4 { disabled yes; ipv4; ${prefixes.map((p) => `route ${p} blackhole;`).join(' ')} }
protocol bgp up { local as 65002; neighbor ${ROUTER} as 65001; hold time 9; connect retry time 1; ipv4 { import none; export all; }; }
`;
}

async function bulk(): Promise<{ ours: number[]; bird: number[] }> {
  const lab = await Lab.up(bulkTopology);
  const removeHandlers = lab.removeOnSignals();
  const dir = (await runCommand(['mktemp', '-d', `/tmp/${lab.prefix}-XXXX`])).stdout.trim();
  const kernelCount = async (): Promise<number> => {
    const r = await runCommand(['ip', '-n', lab.ns('router'), '-4', 'route', 'show', 'proto', 'bird'], { timeoutMs: 10_000 });
    return r.stdout.split('\n').filter((l) => /^\d/.test(l)).length;
  };
  const times = { ours: [] as number[], bird: [] as number[] };
  try {
    const router = await startBird(lab, 'router', routerBirdConfig({ routerId: ROUTER, localAsn: 65001, holdTimeSeconds: 9, neighbors: [{ name: 'lb1v4', address: LB, asn: 65002 }] }), dir, 'router');
    const established = async (): Promise<true | undefined> => (/BGP state:\s+Established/.test(await router.birdc(['show', 'protocols', 'all', 'lb1v4'])) ? true : undefined);
    const allIn = async (): Promise<true | undefined> => ((await kernelCount()) >= BULK_ROUTES ? true : undefined);
    const empty = async (): Promise<true | undefined> => ((await kernelCount()) === 0 ? true : undefined);
    for (let round = 0; round < BULK_ROUNDS; round++) {
      const order = round % 2 === 0 ? (['ours', 'bird'] as const) : (['bird', 'ours'] as const);
      for (const who of order) {
        let ms: number;
        if (who === 'ours') {
          const child = new SpeakerChild(lab.ns('lb1'));
          try {
            await child.call('start', {
              speaker: { routerId: LB, localAsn: 65002, restarted: false },
              peers: [{ address: ROUTER, asn: 65001, holdTimeSeconds: 9, families: ['ipv4'], timings: { connectRetrySeconds: 1, idleHoldMinSeconds: 1, idleHoldMaxSeconds: 2 } }],
            });
            await until('our session', established, 20_000, 50);
            const t0 = performance.now();
            await child.call('set', { routes: prefixes.map((prefix) => ({ prefix })) });
            await until('10,000 routes in the router kernel', allIn, 60_000);
            ms = performance.now() - t0;
            await child.call('stop', { message: 'bench round done' });
          } finally {
            child.kill();
            await child.waitExit();
          }
        } else {
          const lbBird = await startBird(lab, 'lb1', lbBirdConfig(), dir, `lb-${round}`);
          try {
            await until('the reference session', established, 20_000, 50);
            const t0 = performance.now();
            await lbBird.birdc(['enable', 's4']);
            await until('10,000 routes in the router kernel', allIn, 60_000);
            ms = performance.now() - t0;
          } finally {
            await lbBird.stop();
          }
        }
        times[who].push(ms);
        await until('the router kernel emptied', empty, 60_000, 50);
        console.log(`round ${round + 1}/${BULK_ROUNDS} ${who === 'ours' ? 'vipgate' : 'BIRD   '}: ${BULK_ROUTES} routes in the router kernel after ${ms.toFixed(0)} ms`);
      }
    }
  } finally {
    removeHandlers();
    await lab.down();
    await runCommand(['rm', '-rf', dir]);
  }
  return times;
}

// ── 2 and 3: through the agents of the BGP walk-through ─────────────────────────────────────────

/** A node's config with nginx's (10.200.0.5) only backend ready or terminating. */
function nodeConfig(node: 'lb1' | 'lb2', ready: boolean): string {
  const text = bgpDemoConfig(node, { holdTimeSeconds: HOLD_SECONDS });
  const backend = `backends:\n      - { address: ${DEMO.pods.pod1a.v4} }`;
  if (!text.includes(backend)) throw new Error('the demo config changed shape: update nodeConfig in bench/bgp.bench.ts');
  return ready ? text : text.replace(backend, `backends:\n      - { address: ${DEMO.pods.pod1a.v4}, state: terminating }`);
}


/** When the agent logged that it read the changed config (epoch ms), at or after `sinceEpochMs`. */
async function reloadLoggedAt(logPath: string, sinceEpochMs: number): Promise<number | undefined> {
  for (const line of (await readFile(logPath, 'utf8')).split('\n')) {
    if (!line.includes('settings changed; reconciling')) continue;
    const time = (JSON.parse(line) as { time: number }).time;
    if (time >= sinceEpochMs) return time;
  }
  return undefined;
}

async function throughAgents(): Promise<{ readyMs: number[]; reloadToRouteMs: number[]; failover: { gapMs: number; routeGoneMs: number; lost: number; total: number }[] }> {
  // For the one-VIP trials only lb1 may announce 10.200.0.5: lb2 starts with it not ready.
  const w = await startBgpWalkthrough({ config: (node) => nodeConfig(node, false) });
  const removeHandlers = w.lab.removeOnSignals();
  const readyMs: number[] = [];
  // The part after the file source's debounce (50 ms): agent reconcile + BGP + BIRD + kernel.
  const reloadToRouteMs: number[] = [];
  const failover: { gapMs: number; routeGoneMs: number; lost: number; total: number }[] = [];
  try {
    await until('both agents established', async () => ((await w.birdProtocols()).get('lb2v4') === 'Established' && (await w.birdProtocols()).get('lb1v4') === 'Established' ? true : undefined), 20_000, 100);
    const monitor = monitorLines(await w.lab.spawn('router', ['ip', '-4', 'monitor', 'route']));
    for (let trial = 0; trial < READY_TRIALS; trial++) {
      const t0 = performance.now();
      await w.lb1.writeConfig(nodeConfig('lb1', true));
      const at = await monitor.wait(/^10\.200\.0\.5 .*proto bird/, t0, 10_000);
      readyMs.push(at - t0);
      const reloaded = await reloadLoggedAt(w.lb1.agentLog, Math.floor(performance.timeOrigin + t0));
      if (reloaded !== undefined) reloadToRouteMs.push(performance.timeOrigin + at - reloaded);
      const t1 = performance.now();
      await w.lb1.writeConfig(nodeConfig('lb1', false));
      await monitor.wait(/^Deleted 10\.200\.0\.5 /, t1, 10_000);
      if (trial % 20 === 19) console.log(`ready → route: ${trial + 1}/${READY_TRIALS} trials, median so far ${median(readyMs).toFixed(0)} ms`);
    }
    await w.lb1.writeConfig(nodeConfig('lb1', true));
    await w.lb2.writeConfig(nodeConfig('lb2', true));
    const bothHops = async (): Promise<true | undefined> => ((await w.routerKernelRoutes(4)).get('10.200.0.5/32')?.length === 2 ? true : undefined);
    for (let round = 0; round < FAILOVER_ROUNDS; round++) {
      await until('ECMP for 10.200.0.5', bothHops, 30_000, 100);
      const f = await measureCableFailover(w, { node: 'lb1', url: 'http://10.200.0.5/', prefix: '10.200.0.5/32', holdSeconds: HOLD_SECONDS });
      if (f.gap.gapMs === undefined || f.routeGoneMs === undefined) throw new Error('failover never settled');
      failover.push({ gapMs: f.gap.gapMs, routeGoneMs: f.routeGoneMs, lost: f.gap.bad, total: f.gap.total });
      console.log(`failover ${round + 1}/${FAILOVER_ROUNDS}: through lb2 only after ${f.gap.gapMs} ms (route gone after ${f.routeGoneMs} ms), ${f.gap.bad}/${f.gap.total} requests lost`);
    }
  } finally {
    removeHandlers();
    await w.down();
  }
  return { readyMs, reloadToRouteMs, failover };
}

// ── 4. failover with BFD ───────────────────────────────────────────────────────────────────

interface FreezeRound {
  readonly gapMs: number;
  readonly routeGoneMs: number;
  /** Requests after the freeze that failed (lb1's dataplane keeps forwarding while its agent is frozen). */
  readonly failed: number;
  /** Requests after the freeze answered through lb1 before its route went. */
  readonly viaLb1: number;
  readonly total: number;
}

/**
 * BIRD runs BFD at 300 ms × 3 with both LB nodes (their agents too). Each round: 4 request
 * streams from the client to 10.200.0.5 (new connection each, 300 ms timeout); 800 ms in, lb1's
 * agent is frozen with SIGSTOP (its nftables rules keep forwarding: only the control plane
 * stops, as with a hung agent or a node under memory pressure); the gap runs to the first request
 * after which every request went through lb2. The agent is thawed after the stream and the
 * round waits for ECMP again.
 */
async function bfdFailover(): Promise<FreezeRound[]> {
  const w = await startBgpWalkthrough({ routerBfd: BFD, bgpOptions: { bfd: BFD } });
  const removeHandlers = w.lab.removeOnSignals();
  const rounds: FreezeRound[] = [];
  const lb2 = DEMO.lbNode2;
  const bothHops = async (): Promise<true | undefined> => ((await w.routerKernelRoutes(4)).get('10.200.0.5/32')?.length === 2 ? true : undefined);
  const bfdUp = async (): Promise<true | undefined> => {
    const text = await w.bird.birdc(['show', 'bfd', 'sessions']);
    return text.split('\n').filter((l) => /\sUp\s/.test(l)).length >= 4 ? true : undefined;
  };
  try {
    for (let round = 0; round < BFD_ROUNDS; round++) {
      await until('ECMP for 10.200.0.5', bothHops, 30_000, 100);
      await until('four BFD sessions Up', bfdUp, 15_000, 100);
      const probe = w.lab.flowProbe('client', 'http://10.200.0.5/', { durationMs: 3000, concurrency: 4, timeoutMs: 300 });
      await sleep(800);
      await w.lb1.signalAgent('SIGSTOP');
      const frozenAt = Date.now();
      let routeGoneMs: number | undefined;
      let samples: FlowSample[];
      try {
        while (Date.now() - frozenAt < 2000) {
          const hops = (await w.routerKernelRoutes(4)).get('10.200.0.5/32') ?? [];
          if (!hops.includes(DEMO.lbNode.v4)) {
            routeGoneMs = Date.now() - frozenAt;
            break;
          }
          await sleep(10);
        }
      } finally {
        samples = await probe.catch(() => []);
        await w.lb1.signalAgent('SIGCONT');
      }
      const gap = failoverGap(samples, frozenAt, (s) => s.ok && s.via === lb2.v4);
      if (gap.gapMs === undefined || routeGoneMs === undefined) throw new Error(`BFD failover never settled (route gone: ${String(routeGoneMs)})`);
      const after = samples.filter((s) => s.t >= frozenAt);
      const failed = after.filter((s) => !s.ok).length;
      const viaLb1 = after.filter((s) => s.ok && s.via === DEMO.lbNode.v4).length;
      rounds.push({ gapMs: gap.gapMs, routeGoneMs, failed, viaLb1, total: gap.total });
      console.log(`BFD failover ${round + 1}/${BFD_ROUNDS}: through lb2 only after ${gap.gapMs} ms (route gone after ${routeGoneMs} ms); of ${gap.total} requests after the freeze ${viaLb1} went through lb1, ${failed} failed`);
    }
  } finally {
    removeHandlers();
    await w.down();
  }
  return rounds;
}

function bfdRow(rounds: readonly FreezeRound[]): string[] {
  const gaps = rounds.map((r) => r.gapMs);
  return [`failover with BFD 300 ms × 3 (kill -STOP), median of ${gaps.length}`, `${median(gaps).toFixed(0)} ms (max ${Math.max(...gaps)})`, '≤ 1000 ms', verdict(median(gaps), 1000, 'lower')];
}

async function mainBfdOnly(): Promise<void> {
  const started = machine();
  const rounds = await bfdFailover();
  console.log(formatTable(['measure', 'value', 'target', ''], [bfdRow(rounds)]));
  const path = writeResult('bgp-bfd', { benchmark: 'bgp-bfd', command: commandLine(), machine: started, bfd: { timers: BFD, rounds, gapMs: summarize(rounds.map((r) => r.gapMs)), routeGoneMs: summarize(rounds.map((r) => r.routeGoneMs)) }, targets: { gapMs: 1000 } });
  console.log(`results: ${path}`);
}

async function main(): Promise<void> {
  const started = machine();
  const bulkTimes = await bulk();
  const { readyMs, reloadToRouteMs, failover } = await throughAgents();
  const bfdRounds = await bfdFailover();
  const ratio = pairedRatio(bulkTimes.ours, bulkTimes.bird);
  const oursMedian = median(bulkTimes.ours);
  const p50 = percentile(readyMs, 50);
  const p99 = percentile(readyMs, 99);
  const gaps = failover.map((f) => f.gapMs);
  const rows = [
    [`${BULK_ROUTES} /32s → router kernel: vipgate`, `${oursMedian.toFixed(0)} ms`, '≤ 1000 ms', verdict(oursMedian, 1000, 'lower')],
    [`${BULK_ROUTES} /32s → router kernel: BIRD`, `${median(bulkTimes.bird).toFixed(0)} ms`, '', ''],
    ['ratio vipgate/BIRD (paired by round)', ratio.toFixed(2), '≤ 1.5', verdict(ratio, 1.5, 'lower')],
    [`one VIP ready → route, p50 (${readyMs.length} trials)`, `${p50.toFixed(0)} ms`, '', ''],
    [`one VIP ready → route, p99`, `${p99.toFixed(0)} ms`, '≤ 200 ms', verdict(p99, 200, 'lower')],
    [`  of which after the config reload, p50 / p99`, reloadToRouteMs.length === 0 ? 'n/a' : `${percentile(reloadToRouteMs, 50).toFixed(0)} / ${percentile(reloadToRouteMs, 99).toFixed(0)} ms`, '', ''],
    [`failover, hold ${HOLD_SECONDS} s, median of ${gaps.length}`, `${median(gaps).toFixed(0)} ms`, `< ${HOLD_SECONDS + 2} s`, verdict(median(gaps), (HOLD_SECONDS + 2) * 1000, 'lower')],
    bfdRow(bfdRounds),
  ];
  console.log(`\nBGP against BIRD 2 (medians; bulk: ${BULK_ROUNDS} interleaved rounds)`);
  console.log(formatTable(['measure', 'value', 'target', ''], rows));
  const path = writeResult('bgp', {
    benchmark: 'bgp',
    command: commandLine(),
    machine: started,
    bulk: { routes: BULK_ROUTES, rounds: BULK_ROUNDS, ours: summarize(bulkTimes.ours), bird: summarize(bulkTimes.bird), samples: bulkTimes, ratio },
    readyToRoute: {
      trials: readyMs.length,
      p50,
      p99,
      summary: summarize(readyMs),
      includesConfigDebounceMs: 200,
      afterReload: reloadToRouteMs.length === 0 ? null : { p50: percentile(reloadToRouteMs, 50), p99: percentile(reloadToRouteMs, 99), summary: summarize(reloadToRouteMs) },
    },
    failover: { holdTimeSeconds: HOLD_SECONDS, rounds: failover },
    bfdFailover: { timers: BFD, rounds: bfdRounds, gapMs: summarize(bfdRounds.map((r) => r.gapMs)), routeGoneMs: summarize(bfdRounds.map((r) => r.routeGoneMs)) },
    targets: { bulkMs: 1000, ratio: 1.5, readyP99Ms: 200, bfdFailoverMs: 1000 },
  });
  console.log(`results: ${path}`);
}

await (onlyBfd ? mainBfdOnly() : main());
