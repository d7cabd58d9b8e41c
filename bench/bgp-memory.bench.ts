// BGP speaker memory (issue 3: "Speaker memory at 10,000 and 100,000 announced routes"), against
// the real BIRD 2 as the router. The speaker runs alone in a child process in the LB namespace
// (test/support/bgp-speaker-child.ts), so its process.memoryUsage() is the speaker's. Each case
// starts a fresh child: Established with every peer and no routes → baseline (after a full GC);
// then N /32s (one attribute set) → the clock stops when BIRD counts N routes imported from every
// peer; memory again (after a full GC, and the RSS before it). BIRD keeps no kernel protocol: the
// router's kernel is not the subject here.
// Run: npx tsx bench/bgp-memory.bench.ts [--quick]
import { setTimeout as sleep } from 'node:timers/promises';
import { SpeakerChild, createBgpLab, sh, type BgpLab } from '../test/support/bgp-lab.ts';
import { commandLine, formatTable, machine, writeResult } from './lib/report.ts';

const quick = process.argv.includes('--quick');
/** [peers, routes]: one router at 10k and 100k; eight routers (issue 3's "eight or more peers"). */
const CASES: readonly (readonly [number, number])[] = quick
  ? [
      [1, 10_000],
      [8, 10_000],
    ]
  : [
      [1, 10_000],
      [1, 100_000],
      [8, 10_000],
      [8, 100_000],
    ];
const MAX_PEERS = Math.max(...CASES.map(([p]) => p));

/** Peer i: the router side answers on .100+i, the LB side leaves from .200+i (BIRD locks a session by neighbor address). */
const routerAddress = (i: number): string => `10.10.12.${100 + i}`;
const lbAddress = (i: number): string => `10.10.12.${200 + i}`;

interface Memory {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

interface CaseResult {
  readonly peers: number;
  readonly routes: number;
  /** set → every peer's routes imported in BIRD. */
  readonly announceMs: number;
  readonly baseline: Memory;
  /** After every route was imported, before a GC. */
  readonly loaded: Memory;
  /** The same, after a full GC: what the speaker keeps. */
  readonly loadedAfterGc: Memory;
}

function birdConfig(): string {
  const protocols = Array.from(
    { length: MAX_PEERS },
    (_, i) => `protocol bgp p${i} { local ${routerAddress(i)} as 65001; neighbor ${lbAddress(i)} as 65002; hold time 90; connect retry time 1; ipv4 { import all; export none; }; }`,
  );
  return `router id 10.10.12.1;\nprotocol device { scan time 10; }\n${protocols.join('\n')}\n`;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Routes BIRD imported from each of the first `peers` protocols. */
async function imported(lab: BgpLab, peers: number): Promise<number[]> {
  const text = await lab.birdc('show', 'protocols', 'all');
  return Array.from({ length: peers }, (_, i) => {
    const block = text.split(/\n(?=\S)/).find((b) => b.startsWith(`p${i} `)) ?? '';
    if (!/BGP state:\s+Established/.test(block)) return -1;
    return Number(/Routes:\s+(\d+) imported/.exec(block)?.[1] ?? 0);
  });
}

async function runCase(lab: BgpLab, peers: number, routes: number): Promise<CaseResult> {
  const child = new SpeakerChild(lab.lb);
  try {
    await child.call('start', {
      speaker: { routerId: '10.10.12.2', localAsn: 65002 },
      peers: Array.from({ length: peers }, (_, i) => ({
        address: routerAddress(i),
        localAddress: lbAddress(i),
        asn: 65001,
        families: ['ipv4'],
        timings: { connectRetrySeconds: 1, idleHoldMinSeconds: 1, idleHoldMaxSeconds: 2 },
      })),
    });
    await until(`${peers} sessions Established`, async () => (await imported(lab, peers)).every((n) => n === 0), 30_000);
    const baseline = (await child.call('memory', { gc: true })) as Memory;
    const prefixes = Array.from({ length: routes }, (_, i) => ({ prefix: `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, communities: ['65002:100'] }));
    const t0 = performance.now();
    await child.call('set', { routes: prefixes });
    await until(`${routes} routes from each of ${peers} peers in BIRD`, async () => (await imported(lab, peers)).every((n) => n === routes), 300_000, 100);
    const announceMs = performance.now() - t0;
    const loaded = (await child.call('memory', { gc: false })) as Memory;
    const loadedAfterGc = (await child.call('memory', { gc: true })) as Memory;
    await child.call('stop', { message: 'bench case done' });
    await until('BIRD to drop the routes', async () => (await imported(lab, peers)).every((n) => n <= 0), 60_000, 100);
    return { peers, routes, announceMs, baseline, loaded, loadedAfterGc };
  } finally {
    child.kill();
    await child.waitExit();
  }
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  const started = machine();
  const lab = createBgpLab();
  const onSignal = (): void => {
    void lab.destroy().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results: CaseResult[] = [];
  try {
    for (let i = 0; i < MAX_PEERS; i++) {
      sh('ip', '-n', lab.router, 'addr', 'add', `${routerAddress(i)}/24`, 'dev', vethOf(lab.router));
      sh('ip', '-n', lab.lb, 'addr', 'add', `${lbAddress(i)}/24`, 'dev', vethOf(lab.lb));
    }
    await lab.startBird(birdConfig());
    for (const [peers, routes] of CASES) {
      const r = await runCase(lab, peers, routes);
      results.push(r);
      console.log(
        `${peers} peer(s) × ${routes} routes: all imported after ${r.announceMs.toFixed(0)} ms; RSS ${mb(r.baseline.rss)} → ${mb(r.loaded.rss)} (${mb(r.loadedAfterGc.rss)} after GC), heap used ${mb(r.baseline.heapUsed)} → ${mb(r.loadedAfterGc.heapUsed)} after GC`,
      );
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await lab.destroy();
  }
  const rows = results.map((r) => [
    `${r.peers} peer${r.peers === 1 ? '' : 's'} × ${r.routes.toLocaleString('en')} /32s`,
    `${r.announceMs.toFixed(0)} ms`,
    mb(r.baseline.rss),
    mb(r.loaded.rss),
    mb(r.loadedAfterGc.rss),
    mb(r.loadedAfterGc.heapUsed - r.baseline.heapUsed),
    `${((r.loadedAfterGc.heapUsed - r.baseline.heapUsed) / r.routes).toFixed(0)} B`,
  ]);
  console.log('\nBGP speaker memory (child process; BIRD 2 as the router)');
  console.log(formatTable(['case', 'set → all in BIRD', 'RSS idle', 'RSS loaded', 'RSS after GC', 'heap Δ after GC', 'heap Δ / route'], rows));
  const path = writeResult('bgp-memory', { benchmark: 'bgp-memory', command: commandLine(), machine: started, cases: results });
  console.log(`results: ${path}`);
}

function vethOf(namespace: string): string {
  const dev = /^\d+: ([^@:]+)/.exec(sh('ip', '-n', namespace, '-o', 'link', 'show', 'type', 'veth'))?.[1];
  if (dev === undefined) throw new Error(`no veth in ${namespace}`);
  return dev;
}

await main();
