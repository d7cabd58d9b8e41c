// `make bench`: every benchmark, one after the other (never in parallel: they share 2 cores
// with each other and with other work), each in its own process so that one failing does not
// stop the others and a lab is always torn down by the process that made it.
// Run: npx tsx bench/run.ts [--quick] [--only http,first-packet,control-plane,ipam,bgp,xdp,kube,startup,l2-failover]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const BENCHMARKS = {
  ipam: { file: 'ipam.bench.ts', timeoutMs: 120_000 },
  'control-plane': { file: 'control-plane.bench.ts', timeoutMs: 900_000 },
  http: { file: 'http.bench.ts', timeoutMs: 900_000 },
  'first-packet': { file: 'first-packet.bench.ts', timeoutMs: 900_000 },
  bgp: { file: 'bgp.bench.ts', timeoutMs: 900_000 },
  'bgp-memory': { file: 'bgp-memory.bench.ts', timeoutMs: 600_000 },
  xdp: { file: 'xdp.bench.ts', timeoutMs: 600_000 },
  'xdp-ladder': { file: 'xdp-ladder.bench.ts', timeoutMs: 900_000 },
  kube: { file: 'kube.bench.ts', timeoutMs: 900_000 },
  conditions: { file: 'conditions.bench.ts', timeoutMs: 900_000 },
  startup: { file: 'startup.bench.ts', timeoutMs: 900_000 },
  'l2-failover': { file: 'l2-failover.bench.ts', timeoutMs: 900_000 },
} as const;
type Name = keyof typeof BENCHMARKS;

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
const names = Object.keys(BENCHMARKS) as Name[];
const chosen = values.only === undefined ? names : values.only.split(',').map((n) => n.trim());
const unknown = chosen.filter((n) => !(n in BENCHMARKS));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; known: ${names.join(', ')}`);
  process.exit(2);
}

function runOne(name: Name): Promise<boolean> {
  const { file, timeoutMs } = BENCHMARKS[name];
  const path = fileURLToPath(new URL(`./${file}`, import.meta.url));
  const args = ['--import', 'tsx', path, ...(values.quick ? ['--quick'] : [])];
  console.log(`\n=== ${name} (${file}${values.quick ? ', quick' : ''}) ===`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    // SIGINT first so the benchmark removes its lab; SIGKILL if it does not stop.
    const timer = setTimeout(() => {
      console.error(`${name}: over ${timeoutMs / 1000} s; stopping it`);
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}

const failed: string[] = [];
for (const name of chosen as Name[]) if (!(await runOne(name))) failed.push(name);
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exit(1);
}
console.log('\nresults in bench/results/*.json; BENCHMARKS.md records a full run');
