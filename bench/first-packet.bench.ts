// First-packet cost flat in the number of services: new connections/s to one VIP through
// vipgate's nftables dataplane with 1 other service installed vs 10,000 others (× 10 backends
// each). The per-packet lookup is one verdict map keyed by VIP . proto . port, so the ratio
// should be ~1. Interleaved per round (the order alternates). Target: ratio ≥ 0.95.
// Run: npx tsx bench/first-packet.bench.ts [--quick]
import { commandLine, formatTable, machine, verdict, writeResult } from './lib/report.ts';
import { median, pairedRatio, summarize } from './lib/stats.ts';
import { startHttpLab } from './lib/http-lab.ts';
import { BENCH_VIP, syntheticTable } from './lib/tables.ts';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 5;
const SECONDS = quick ? 2 : 4;
const MANY = 10_000;
const TARGET = 0.95;
const Sizes = ['few', 'many'] as const;
type Size = (typeof Sizes)[number];

async function main(): Promise<void> {
  const started = machine();
  const lab = await startHttpLab({ backends: 1 });
  const others: Record<Size, number> = { few: 1, many: MANY };
  const tables = {
    few: syntheticTable({ others: others.few, backendsPerService: 10, benchBackends: lab.backends }),
    many: syntheticTable({ others: others.many, backendsPerService: 10, benchBackends: lab.backends }),
  };
  const rps: Record<Size, number[]> = { few: [], many: [] };
  const errors: Record<Size, number[]> = { few: [], many: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? Sizes : [...Sizes].reverse();
      for (const size of order) {
        // A whole-table replace rather than an incremental diff: adding 10,000 frontends in one
        // diff overflows the stack in diff.ts (`lines.push(...)` with a huge spread; reported).
        await lab.dataplane.cleanup();
        const report = await lab.dataplane.apply(tables[size]);
        await lab.probe(BENCH_VIP);
        await lab.flushConntrack();
        const r = await lab.wrk(BENCH_VIP, 'newconn', SECONDS);
        rps[size].push(r.requestsPerSecond);
        errors[size].push(r.errors);
        console.log(`round ${round + 1}/${ROUNDS} ${String(others[size]).padStart(5)} other services (apply ${report.durationMs.toFixed(0)} ms): ${r.requestsPerSecond.toFixed(0).padStart(6)} new conn/s  errors ${r.errors}`);
      }
    }
  } finally {
    await lab.dataplane.cleanup().catch(() => undefined);
    await lab.down();
  }
  const ratio = pairedRatio(rps.many, rps.few);
  const rows = [
    [`1 other service`, median(rps.few).toFixed(0), String(errors.few.reduce((a, b) => a + b, 0)), '', ''],
    [`${MANY} other services × 10 backends`, median(rps.many).toFixed(0), String(errors.many.reduce((a, b) => a + b, 0)), '', ''],
    [`ratio ${MANY}/1 (target ≥ ${TARGET})`, '', '', ratio.toFixed(3), verdict(ratio, TARGET, 'higher')],
  ];
  console.log(`\nFirst packet: new connections/s to ${BENCH_VIP} through vipgate, ${ROUNDS} rounds × ${SECONDS} s, medians (wrk -t1 -c16, Connection: close)`);
  console.log(formatTable(['installed', 'conn/s', 'errors', 'ratio', 'target'], rows));
  const path = writeResult('first-packet', {
    benchmark: 'first-packet',
    command: commandLine(),
    machine: started,
    rounds: ROUNDS,
    secondsPerRun: SECONDS,
    newConnectionsPerSecond: { few: summarize(rps.few), many: summarize(rps.many) },
    samples: rps,
    errors,
    ratio,
    target: { ratio: TARGET, met: ratio >= TARGET },
  });
  console.log(`results: ${path}`);
}

await main();
