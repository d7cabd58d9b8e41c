// Compiles bpf/vipgate_xdp.c with Debian's clang when the object is missing or older than its
// sources, so a fresh clone builds it on first use (and the test command builds it up front).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../../project-root.ts';
import { XdpError, XdpErrorCode } from './errors.ts';

export const BPF_DIR = join(projectRoot(), 'bpf');
export const BPF_SOURCES = ['vipgate_xdp.c', 'vipgate.h', 'vg_encap_icmp.h'].map((f) => join(BPF_DIR, f));
export const BPF_OBJECT = join(BPF_DIR, 'build', 'vipgate_xdp.o');

/** The clang command line (Debian puts asm/types.h under the multiarch include dir). */
export function clangArgs(source: string, output: string): string[] {
  return ['-O2', '-g', '-Wall', '-Werror', '-target', 'bpf', `-I/usr/include/${multiarch()}`, '-c', source, '-o', output];
}

function multiarch(): string {
  return process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
}

export function needsBuild(object: string = BPF_OBJECT, sources: readonly string[] = BPF_SOURCES): boolean {
  if (!existsSync(object)) return true;
  const built = statSync(object).mtimeMs;
  return sources.some((s) => statSync(s).mtimeMs > built);
}

/** Builds the object if needed and returns its path. Throws XDP_BUILD_FAILED with clang's output. */
export function buildBpfObject(options: { force?: boolean; clang?: string } = {}): string {
  if (options.force !== true && !needsBuild()) return BPF_OBJECT;
  mkdirSync(dirname(BPF_OBJECT), { recursive: true });
  const clang = options.clang ?? 'clang';
  const result = spawnSync(clang, clangArgs(BPF_SOURCES[0]!, BPF_OBJECT), { encoding: 'utf8' });
  if (result.error !== undefined) {
    throw new XdpError(XdpErrorCode.buildFailed, `could not run ${clang} (Debian: apt-get install clang llvm libbpf-dev): ${result.error.message}`, { cause: result.error });
  }
  if (result.status !== 0) {
    throw new XdpError(XdpErrorCode.buildFailed, `${clang} could not compile ${BPF_SOURCES[0]!}:\n${result.stderr}`);
  }
  return BPF_OBJECT;
}

// `npx tsx src/dataplane/xdp/build.ts` builds from the command line (the Makefile's hook).
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(buildBpfObject({ force: process.argv.includes('--force') }));
}
