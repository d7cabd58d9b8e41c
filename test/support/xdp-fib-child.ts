// Runs frames through xdpDataplane (BPF_PROG_TEST_RUN) inside a network namespace whose FIB knows
// the next hops, so forward() takes its fast path (MACs from bpf_fib_lookup, XDP_TX/redirect).
// Started with `ip netns exec` (a private mount namespace: the bpffs mounted here goes with it).
// argv[2]: JSON { jobs: [{ options, table, frames: hex[] }] }. Prints one line: JSON
// [{ results: [{ verdict, packet: hex }], forwarded }] in job order.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServiceTable } from '../../src/model/index.ts';
import { xdpDataplane, type XdpDataplaneOptions } from '../../src/dataplane/xdp/index.ts';

export interface FibJob {
  readonly options: Omit<XdpDataplaneOptions, 'pinDir'>;
  readonly table: ServiceTable;
  readonly frames: readonly string[];
}

export interface FibJobResult {
  readonly results: { verdict: string; packet: string }[];
  readonly forwarded: string;
}

const { jobs } = JSON.parse(process.argv[2] ?? '{"jobs":[]}') as { jobs: FibJob[] };
const bpffs = mkdtempSync(join(tmpdir(), 'vgtxdp-'));
execFileSync('mount', ['-t', 'bpf', 'bpf', bpffs]);
const out: FibJobResult[] = [];
for (const [i, job] of jobs.entries()) {
  const dp = xdpDataplane({ ...job.options, pinDir: join(bpffs, `job${i}`) });
  try {
    await dp.apply(job.table);
    const results = job.frames.map((hex) => {
      const r = dp.testRun(Buffer.from(hex, 'hex'));
      return { verdict: r.verdict, packet: Buffer.from(r.packet).toString('hex') };
    });
    out.push({ results, forwarded: dp.stats().forwarded.toString() });
  } finally {
    await dp.cleanup();
  }
}
execFileSync('umount', [bpffs]);
console.log(JSON.stringify(out));
