// Output of a benchmark: a printed table and a JSON file in bench/results/ with the machine and
// the exact command, so that BENCHMARKS.md can quote a run that can be found again.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export interface Machine {
  readonly cores: number;
  readonly cpu: string;
  readonly kernel: string;
  readonly node: string;
  readonly nft: string;
  readonly wrk: string;
  /** 1-minute load average when the benchmark started: other helpers share these cores. */
  readonly loadAverage: number;
  readonly date: string;
  /** HEAD, and the paths under src/ with uncommitted changes (others work in this tree too). */
  readonly commit: string;
  readonly uncommitted: readonly string[];
}

function version(argv: readonly [string, ...string[]]): string {
  try {
    const [command, ...args] = argv;
    const out = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
    return out.split('\n')[0]?.trim() ?? '';
  } catch (error) {
    // wrk -v prints its version and exits 1.
    const out = (error as { stdout?: string }).stdout ?? '';
    return out.split('\n')[0]?.trim() || 'unknown';
  }
}

function gitDirty(): string[] {
  try {
    const out = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8', timeout: 5000 });
    return out.split('\n').filter((l) => l !== '').map((l) => l.slice(3));
  } catch {
    return ['(git status failed)'];
  }
}

export function machine(): Machine {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    kernel: release(),
    node: process.version,
    nft: version(['nft', '--version']),
    wrk: version(['wrk', '-v']),
    loadAverage: loadavg()[0] ?? 0,
    date: new Date().toISOString(),
    commit: version(['git', 'rev-parse', '--short', 'HEAD']),
    uncommitted: gitDirty(),
  };
}

export interface ResultFile {
  readonly benchmark: string;
  readonly command: string;
  readonly machine: Machine;
  readonly [field: string]: unknown;
}

/** Writes bench/results/<name>.json (the latest run of that benchmark); returns the path. */
export function writeResult(name: string, result: ResultFile): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = `${RESULTS_DIR}${name}.json`;
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}

/** A plain aligned table: first column left-aligned, the others right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** `ok` / `MISS` against a target, for the tables. */
export function verdict(value: number, target: number, better: 'higher' | 'lower'): string {
  const ok = better === 'higher' ? value >= target : value <= target;
  return ok ? 'ok' : 'MISS';
}

/** The command line that ran this process, for the results file. */
export function commandLine(): string {
  return ['npx tsx', ...process.argv.slice(1).map((a) => a.replace(/^.*\/(bench\/)/, '$1'))].join(' ');
}
