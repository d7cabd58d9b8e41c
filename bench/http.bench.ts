// HTTP through the VIP: keep-alive requests/s and new connections/s for
//   R0 routed to the backend through lb1, no load balancing (no nftables at all in lb1),
//   R1 a hand-written one-rule nftables DNAT (numgen over the same backends),
//   R2 vipgate's nftables dataplane with the same backends,
// interleaved round by round (the order rotates, so no route always runs first after a quiet
// spell), with the median of per-round ratios. Target: R2/R1 ≥ 0.97 on both measures.
// Run: npx tsx bench/http.bench.ts [--quick]
import { commandLine, formatTable, machine, verdict, writeResult } from './lib/report.ts';
import { median, pairedRatio, summarize } from './lib/stats.ts';
import { startHttpLab, type HttpLab, type WrkMode } from './lib/http-lab.ts';
import { BENCH_VIP, syntheticTable } from './lib/tables.ts';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 5;
const SECONDS = quick ? 2 : 4;
const TARGET = 0.97;

const Routes = ['R0', 'R1', 'R2'] as const;
type Route = (typeof Routes)[number];
const Modes: readonly WrkMode[] = ['keepalive', 'newconn'];
const ROUTE_NAMES: Record<Route, string> = {
  R0: 'routed, no load balancing',
  R1: 'hand-written nft DNAT (1 rule)',
  R2: 'vipgate nftables dataplane',
};

interface Sample {
  readonly rps: number;
  readonly errors: number;
}

/** Puts route `r` in place in lb1 and returns the address the client sends to. */
async function enter(lab: HttpLab, route: Route): Promise<string> {
  if (route === 'R0') return lab.backends[0]!.address;
  if (route === 'R1') await lab.installReference();
  else await lab.dataplane.apply(syntheticTable({ others: 0, backendsPerService: 0, benchBackends: lab.backends }));
  return BENCH_VIP;
}

async function leave(lab: HttpLab, route: Route): Promise<void> {
  if (route === 'R1') await lab.removeReference();
  if (route === 'R2') await lab.dataplane.cleanup();
}

async function main(): Promise<void> {
  const started = machine();
  // One backend: R0 can only reach one address without a balancer, and the same single server
  // behind all three routes keeps the server's cost identical.
  const lab = await startHttpLab({ backends: 1 });
  const samples: Record<WrkMode, Record<Route, Sample[]>> = {
    keepalive: { R0: [], R1: [], R2: [] },
    newconn: { R0: [], R1: [], R2: [] },
  };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = Routes.map((_, i) => Routes[(i + round) % Routes.length]!);
      for (const route of order) {
        const address = await enter(lab, route);
        try {
          await lab.probe(address);
          for (const mode of Modes) {
            await lab.flushConntrack();
            const r = await lab.wrk(address, mode, SECONDS);
            samples[mode][route].push({ rps: r.requestsPerSecond, errors: r.errors });
            console.log(`round ${round + 1}/${ROUNDS} ${route} ${mode.padEnd(9)} ${r.requestsPerSecond.toFixed(0).padStart(7)} req/s  errors ${r.errors}`);
          }
        } finally {
          await leave(lab, route);
        }
      }
    }
  } finally {
    await lab.down();
  }

  const rows: string[][] = [];
  const summary: Record<string, unknown> = {};
  for (const mode of Modes) {
    const rps = (route: Route): number[] => samples[mode][route].map((s) => s.rps);
    const r2r1 = pairedRatio(rps('R2'), rps('R1'));
    const r2r0 = pairedRatio(rps('R2'), rps('R0'));
    const r1r0 = pairedRatio(rps('R1'), rps('R0'));
    for (const route of Routes) {
      const errors = samples[mode][route].reduce((sum, s) => sum + s.errors, 0);
      rows.push([`${mode} ${route} ${ROUTE_NAMES[route]}`, median(rps(route)).toFixed(0), String(errors), '', '']);
    }
    rows.push([`${mode} R2/R1 (target ≥ ${TARGET})`, '', '', r2r1.toFixed(3), verdict(r2r1, TARGET, 'higher')]);
    rows.push([`${mode} R2/R0 · R1/R0`, '', '', `${r2r0.toFixed(3)} · ${r1r0.toFixed(3)}`, '']);
    summary[mode] = {
      routes: Object.fromEntries(Routes.map((r) => [r, { requestsPerSecond: summarize(rps(r)), errors: samples[mode][r].map((s) => s.errors) }])),
      ratios: { r2OverR1: r2r1, r2OverR0: r2r0, r1OverR0: r1r0 },
      target: { r2OverR1: TARGET, met: r2r1 >= TARGET },
    };
  }
  console.log(`\nHTTP through the VIP: ${ROUNDS} rounds × ${SECONDS} s per route and mode, medians (wrk -t1; keep-alive -c32, new connections -c16)`);
  console.log(formatTable(['route', 'req/s', 'errors', 'ratio', 'target'], rows));
  const path = writeResult('http', {
    benchmark: 'http',
    command: commandLine(),
    machine: started,
    rounds: ROUNDS,
    secondsPerRun: SECONDS,
    backends: 1,
    samples,
    ...summary,
  });
  console.log(`results: ${path}`);
}

await main();
