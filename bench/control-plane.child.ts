// The measuring side of bench/control-plane.bench.ts. It must run *inside* a network namespace
// (the libnftables FFI acts in the namespace of the process): the parent starts it with
// `ip netns exec <ns> node --import tsx bench/control-plane.child.ts <mode> …` and reads one
// JSON line from stdout. Each cold run is a fresh process, so its peak RSS is its own.
//   cold   --services N --backends B   fresh process, empty kernel: build the table, apply it
//   change --services N --backends B --reps R   one backend changed per apply, R times
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { nftKernel, nftablesDataplane, openNftKernel, type NftRunner } from '../src/dataplane/nftables/index.ts';
import type { Backend, ServiceTable } from '../src/model/index.ts';
import { syntheticTable, syntheticVip } from './lib/tables.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { services: { type: 'string' }, backends: { type: 'string', default: '10' }, reps: { type: 'string', default: '20' }, step: { type: 'string' } },
});
const mode = positionals[0];
const services = Number(values.services);
const backendsPerService = Number(values.backends);
const reps = Number(values.reps);
if ((mode !== 'cold' && mode !== 'change') || !Number.isInteger(services) || services < 1 || !Number.isInteger(backendsPerService) || !Number.isInteger(reps)) {
  process.stderr.write('usage: control-plane.child.ts cold|change --services N [--backends B] [--reps R]\n');
  process.exit(2);
}

/** Peak resident set of this process in MiB, from the kernel (VmHWM). */
function peakRssMiB(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (m === null) throw new Error('no VmHWM in /proc/self/status');
  return Number(m[1]) / 1024;
}

// The agent's choice (libnftables, nfnetlink), with the nft text transactions timed.
const opened = openNftKernel();
const ffi = opened.transactions;
/** Time spent inside libnftables and the kernel, so the rest of an apply is vipgate's own. */
let nftMs = 0;
const runner: NftRunner = {
  kind: ffi.kind,
  async run(text) {
    const started = performance.now();
    try {
      return await ffi.run(text);
    } finally {
      nftMs += performance.now() - started;
    }
  },
  close: () => ffi.close(),
};
// --step N: frontends per transaction (the dataplane's default when absent).
const kernel = nftKernel({ ...opened, transactions: runner, generation: opened.chosen.generation === 'none' ? undefined : opened.generation });
const dataplane = nftablesDataplane(values.step === undefined ? { kernel } : { kernel, maxFrontendsPerTransaction: Number(values.step) });
const ms = (from: number): number => performance.now() - from;

try {
  await dataplane.cleanup(); // a leftover table from an aborted run would make this not cold
  const rssBeforeMiB = peakRssMiB();
  let t = performance.now();
  const table = syntheticTable({ others: services, backendsPerService });
  const buildMs = ms(t);
  nftMs = 0;
  t = performance.now();
  const report = await dataplane.apply(table);
  const applyMs = ms(t);
  const applyNftMs = nftMs;
  const rssMiB = peakRssMiB();
  // JS heap vs the rest (libnftables' own allocations, koffi): says where the memory goes.
  const heapMiB = process.memoryUsage().heapUsed / 1048576;
  if (mode === 'cold') {
    // The reference: libnftables loading the very same ruleset from its own listing, in one
    // transaction, with nothing of vipgate's rendering or diffing around it — the floor.
    const listing = await runner.run('list table inet vipgate');
    await dataplane.cleanup();
    t = performance.now();
    await runner.run(listing);
    const referenceMs = ms(t);
    process.stdout.write(
      `${JSON.stringify({ mode, services, backendsPerService, frontends: table.frontends.length, buildMs, applyMs, applyReportMs: report.durationMs, applyNftMs, referenceMs, rssBeforeMiB, rssMiB, heapMiB })}\n`,
    );
  } else {
    const applyTimes: number[] = [];
    const nftTimes: number[] = [];
    let last: { service: number; address: string } | undefined;
    /** The table the kernel holds after the last change. */
    let current = table;
    // A fixed walk over the table (no randomness: the same services every run). Each pass
    // changes one backend of one service; the previous pass's change is reverted with it, so
    // every apply is "one backend changed" against what the kernel holds.
    for (let rep = 0; rep < reps; rep++) {
      const service = (rep * 7919) % services;
      const replacement: Backend = { address: `10.99.${rep % 250}.${(rep % 200) + 1}`, port: 8080, weight: 1, state: 'ready' };
      // Every other frontend is the same object as before, as in the agent, whose pass reuses
      // the frontends of Services that did not change (docs/design/000 "Incremental passes").
      const which = `bench/svc-${service}`;
      const changed: ServiceTable = {
        ...table,
        frontends: table.frontends.map((f) => (f.service === which ? { ...f, backends: f.backends.map((b, j) => (j === rep % backendsPerService ? replacement : b)) } : f)),
      };
      if (changed.frontends.every((f, i) => f === table.frontends[i])) throw new Error(`no frontend of ${which} in the table`);
      // The transaction is committed when apply resolves: libnftables returns after the
      // kernel's netlink batch is acknowledged, so this is change → kernel.
      nftMs = 0;
      t = performance.now();
      const r = await dataplane.apply(changed);
      applyTimes.push(ms(t));
      nftTimes.push(nftMs);
      if (r.frontendsWritten > 2) throw new Error(`one backend change rewrote ${r.frontendsWritten} frontends, expected at most 2`);
      last = { service, address: replacement.address };
      current = changed;
    }
    const rssChangesMiB = peakRssMiB();
    // Resync: read the kernel's table back and diff it (what the agent does periodically and
    // at start). Restart: a new dataplane (an agent that just started) on the table the
    // previous one left: it must find nothing to write, and must not replace the table.
    // Two kinds of resync: with the ruleset untouched since our last write (the generation
    // check answers), and after an unrelated commit in the namespace (a full read).
    const resyncTimes: number[] = [];
    const fullResyncTimes: number[] = [];
    const restartTimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      t = performance.now();
      const r = await dataplane.apply(current, { resync: true });
      resyncTimes.push(ms(t));
      if (r.changed || r.driftRepaired) throw new Error(`resync with no drift changed the table: ${JSON.stringify(r)}`);
    }
    for (let i = 0; i < 3; i++) {
      await runner.run('add table inet vgbench_touch\ndelete table inet vgbench_touch\n');
      t = performance.now();
      const r = await dataplane.apply(current, { resync: true });
      fullResyncTimes.push(ms(t));
      if (r.changed || r.driftRepaired) throw new Error(`resync with no drift changed the table: ${JSON.stringify(r)}`);
    }
    // Peak so far: one dataplane, after 20 changes and 6 resyncs (3 of them full read-backs).
    const rssResyncsMiB = peakRssMiB();
    for (let i = 0; i < 2; i++) {
      const restarted = nftablesDataplane({ kernel });
      t = performance.now();
      const r = await restarted.apply(current, { resync: true });
      restartTimes.push(ms(t));
      if (r.changed || r.driftRepaired) throw new Error(`a restart on an unchanged table changed it: ${JSON.stringify(r)}`);
    }
    // Proof, outside the timed part (a listing of 10k services takes a while): the kernel holds
    // the last change. Read back through a listing, not the dataplane's own memory.
    const listed = await runner.run('list table inet vipgate');
    if (last !== undefined && !listed.includes(`${last.address}:8080`) && !listed.includes(`${last.address} . 8080`)) {
      throw new Error(`after the last apply the kernel has no backend ${last.address}:8080 for ${syntheticVip(last.service)}`);
    }
    process.stdout.write(
      `${JSON.stringify({ mode, services, backendsPerService, buildMs, coldApplyMs: applyMs, coldNftMs: applyNftMs, applyTimes, nftTimes, rssChangesMiB, resyncTimes, fullResyncTimes, rssResyncsMiB, restartTimes, rssMiB: peakRssMiB() })}\n`,
    );
  }
} finally {
  await dataplane.cleanup();
  await dataplane.close();
}
