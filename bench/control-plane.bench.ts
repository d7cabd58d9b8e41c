// Control plane: time and peak RSS to program 1,000 and 10,000 services × 10 backends from a
// cold start (fresh process, empty kernel table), and the time for one backend change at 10,000
// services. Measured in a child process inside a namespace of our own (the libnftables FFI acts
// in the process's namespace); the reference is libnftables loading the same ruleset from its
// own listing. Targets: 10k × 10 in ≤ 2 s; one change in ≤ 100 ms; RSS ≤ 150 MB.
// Run: npx tsx bench/control-plane.bench.ts [--quick]
import { spawn } from 'node:child_process';
import { agentLikeCommand } from './lib/agent-like.ts';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { commandLine, formatTable, machine, verdict, writeResult } from './lib/report.ts';
import { median, summarize } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 3;
const CHANGE_REPS = quick ? 5 : 20;
const SIZES = [1000, 10_000] as const;
const BACKENDS = 10;
const TARGETS = { coldMs10k: 2000, changeMs: 100, rssMB: 150 } as const;
const CHILD = fileURLToPath(new URL('./control-plane.child.ts', import.meta.url));
const CHILD_TIMEOUT_MS = 180_000;

function run(argv: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const [command, ...args] = argv;
    const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ')}: ${signal ?? `exit ${code}`}${signal === 'SIGKILL' ? ` (over ${timeoutMs} ms)` : ''}\n${err}`));
    });
  });
}

interface Cold {
  readonly buildMs: number;
  readonly applyMs: number;
  readonly applyNftMs: number;
  readonly referenceMs: number;
  readonly rssMiB: number;
  readonly heapMiB: number;
  readonly rssBeforeMiB: number;
}
interface Change {
  readonly applyTimes: number[];
  readonly nftTimes: number[];
  /** Peak RSS after the cold load and the changes. */
  readonly rssChangesMiB: number;
  /** Peak RSS after the resyncs, before the restarts (which put two more dataplanes in the same process). */
  readonly rssResyncsMiB: number;
  /** Resyncs with the ruleset untouched since the last write (answered by the generation). */
  readonly resyncTimes: number[];
  /** Resyncs after an unrelated commit in the namespace: the table is read back in full. */
  readonly fullResyncTimes: number[];
  readonly restartTimes: number[];
  /** Peak RSS at the end, after resyncs and restarts (each reads the whole table back). */
  readonly rssMiB: number;
}

async function main(): Promise<void> {
  const started = machine();
  const ns = `vgb${randomBytes(2).toString('hex')}-cp`;
  // As the agent runs: bundled, with bin/vipgate's node flags (bench/lib/agent-like.ts).
  const command = await agentLikeCommand(CHILD);
  const child = (args: readonly string[]): Promise<unknown> =>
    run(['ip', 'netns', 'exec', ns, ...command, ...args], CHILD_TIMEOUT_MS).then(
      (out) => JSON.parse(out.trim().split('\n').pop()!) as unknown,
    );
  await run(['ip', 'netns', 'add', ns], 10_000);
  const cold: Record<number, Cold[]> = { 1000: [], 10000: [] };
  let change: Change;
  try {
    await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'], 10_000);
    for (let round = 0; round < ROUNDS; round++) {
      for (const size of SIZES) {
        const r = (await child(['cold', '--services', String(size), '--backends', String(BACKENDS)])) as Cold;
        cold[size]!.push(r);
        console.log(`round ${round + 1}/${ROUNDS} cold ${size} × ${BACKENDS}: apply ${r.applyMs.toFixed(0)} ms (nft ${r.applyNftMs.toFixed(0)}), reference ${r.referenceMs.toFixed(0)} ms, peak RSS ${r.rssMiB.toFixed(0)} MiB`);
      }
    }
    change = (await child(['change', '--services', '10000', '--backends', String(BACKENDS), '--reps', String(CHANGE_REPS)])) as Change;
    console.log(`one-backend change at 10000: ${change.applyTimes.map((t) => t.toFixed(0)).join(' ')} ms`);
  } finally {
    await run(['ip', 'netns', 'del', ns], 10_000);
  }

  const rows: string[][] = [];
  const summary: Record<string, unknown> = {};
  for (const size of SIZES) {
    const c = cold[size]!;
    const applyMs = median(c.map((x) => x.applyMs));
    const referenceMs = median(c.map((x) => x.referenceMs));
    const rss = median(c.map((x) => x.rssMiB)) * 1.048576; // MiB → MB, as the target is stated
    const nft = median(c.map((x) => x.applyNftMs));
    const ratio = median(c.map((x) => x.applyMs / x.referenceMs));
    rows.push([`cold ${size} × ${BACKENDS}: apply (of which nft)`, `${applyMs.toFixed(0)} ms (${nft.toFixed(0)})`, size === 10_000 ? `≤ ${TARGETS.coldMs10k} ms` : '', size === 10_000 ? verdict(applyMs, TARGETS.coldMs10k, 'lower') : '']);
    rows.push([`cold ${size}: reference (libnftables, same ruleset)`, `${referenceMs.toFixed(0)} ms`, `ours/ref ${ratio.toFixed(2)}`, '']);
    rows.push([`cold ${size}: peak RSS (JS heap)`, `${rss.toFixed(0)} MB (${median(c.map((x) => x.heapMiB)).toFixed(0)} MiB)`, `≤ ${TARGETS.rssMB} MB`, verdict(rss, TARGETS.rssMB, 'lower')]);
    summary[`cold${size}`] = {
      applyMs: summarize(c.map((x) => x.applyMs)),
      applyNftMs: summarize(c.map((x) => x.applyNftMs)),
      buildMs: summarize(c.map((x) => x.buildMs)),
      referenceMs: summarize(c.map((x) => x.referenceMs)),
      oursOverReference: ratio,
      peakRssMiB: summarize(c.map((x) => x.rssMiB)),
      heapMiB: summarize(c.map((x) => x.heapMiB)),
      baselineRssMiB: summarize(c.map((x) => x.rssBeforeMiB)),
    };
  }
  const ch = summarize(change.applyTimes);
  const chNft = summarize(change.nftTimes);
  rows.push([`one backend change at 10000: median (nft)`, `${ch.median.toFixed(0)} ms (${chNft.median.toFixed(0)})`, `≤ ${TARGETS.changeMs} ms`, verdict(ch.median, TARGETS.changeMs, 'lower')]);
  rows.push([`one backend change at 10000: p95`, `${ch.p95.toFixed(0)} ms`, '', '']);
  const resync = summarize(change.resyncTimes);
  const fullResync = summarize(change.fullResyncTimes);
  const restart = summarize(change.restartTimes);
  rows.push([`resync at 10000, ruleset untouched (generation check)`, `${resync.median.toFixed(1)} ms`, '', '']);
  rows.push([`resync at 10000 after another commit (read back + diff)`, `${fullResync.median.toFixed(0)} ms`, '', '']);
  rows.push([`restart: first apply at 10000 on the table left behind`, `${restart.median.toFixed(0)} ms`, '', '']);
  const mb = (mib: number): string => (mib * 1.048576).toFixed(0);
  rows.push([`peak RSS: after 20 changes / + 3 full read-backs`, `${mb(change.rssChangesMiB)} / ${mb(change.rssResyncsMiB)} MB`, `≤ ${TARGETS.rssMB} MB`, verdict(change.rssResyncsMiB * 1.048576, TARGETS.rssMB, 'lower')]);
  // Not an agent's figure: the restarts run in the same process, next to the first dataplane.
  rows.push([`peak RSS: + 2 restarts in the same process`, `${mb(change.rssMiB)} MB`, '', '']);
  summary.change10000 = { applyMs: ch, nftMs: chNft, samples: change.applyTimes, peakRssAfterChangesMiB: change.rssChangesMiB, peakRssAfterResyncsMiB: change.rssResyncsMiB, peakRssMiB: change.rssMiB };
  summary.resync10000 = { applyMs: resync, samples: change.resyncTimes };
  summary.fullResync10000 = { applyMs: fullResync, samples: change.fullResyncTimes };
  summary.restart10000 = { applyMs: restart, samples: change.restartTimes };

  console.log(`\nControl plane (libnftables FFI in a namespace): cold runs ${ROUNDS}× per size, ${CHANGE_REPS} changes, medians`);
  console.log(formatTable(['measure', 'value', 'target', ''], rows));
  const path = writeResult('control-plane', {
    benchmark: 'control-plane',
    command: commandLine(),
    machine: started,
    rounds: ROUNDS,
    changeReps: CHANGE_REPS,
    backendsPerService: BACKENDS,
    targets: TARGETS,
    cold,
    ...summary,
  });
  console.log(`results: ${path}`);
}

await main();
