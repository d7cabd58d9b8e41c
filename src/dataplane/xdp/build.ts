// Compiles bpf/vipgate_xdp.c with Debian's clang when the object is missing or older than any of
// its sources (every .c and .h in bpf/), so a fresh clone builds it on first use (and the test
// command builds it up front).
// The container image ships the object built by `--output` (scripts/build-image.sh) next to its
// sources, and has no clang: there the object is never older, so nothing is compiled.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../../project-root.ts';
import { XdpError, XdpErrorCode } from './errors.ts';

export const BPF_DIR = join(projectRoot(), 'bpf');
/** The file clang compiles; it includes the headers beside it. */
export const BPF_SOURCE = join(BPF_DIR, 'vipgate_xdp.c');
export const BPF_OBJECT = join(BPF_DIR, 'build', 'vipgate_xdp.o');

/**
 * The clang command line (Debian puts asm/types.h under the multiarch include dir). The checkout's
 * path is mapped to "." in the debug info and BTF line info, so the object's bytes do not depend
 * on where the checkout is (the image is reproducible from any directory).
 */
export function clangArgs(source: string, output: string): string[] {
  return ['-O2', '-g', '-Wall', '-Werror', '-target', 'bpf', `-I/usr/include/${multiarch()}`, `-ffile-prefix-map=${projectRoot()}=.`, '-c', source, '-o', output];
}

function multiarch(): string {
  return process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
}

/**
 * What the object is built from: every .c and .h in `dir`, found rather than listed, so a header
 * added to the program can't be left out (that header's edits would leave a stale object).
 */
export function bpfSources(dir: string = BPF_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.c') || f.endsWith('.h'))
    .sort()
    .map((f) => join(dir, f));
}

export function needsBuild(object: string = BPF_OBJECT, sources: readonly string[] = bpfSources()): boolean {
  if (!existsSync(object)) return true;
  const built = statSync(object).mtimeMs;
  return sources.some((s) => statSync(s).mtimeMs > built);
}

/**
 * Builds the object if needed and returns its path. Throws XDP_BUILD_FAILED with clang's output.
 * `output`: compile to that file instead (always; the checkout's object is left alone).
 */
export function buildBpfObject(options: { force?: boolean; clang?: string; output?: string } = {}): string {
  const object = options.output ?? BPF_OBJECT;
  if (options.output === undefined && options.force !== true && !needsBuild()) return object;
  mkdirSync(dirname(object), { recursive: true });
  const clang = options.clang ?? 'clang';
  const result = spawnSync(clang, clangArgs(BPF_SOURCE, object), { encoding: 'utf8' });
  if (result.error !== undefined) {
    throw new XdpError(XdpErrorCode.buildFailed, `could not run ${clang} (Debian: apt-get install clang llvm libbpf-dev): ${result.error.message}`, { cause: result.error });
  }
  if (result.status !== 0) {
    throw new XdpError(XdpErrorCode.buildFailed, `${clang} could not compile ${BPF_SOURCE}:\n${result.stderr}`);
  }
  return object;
}

// `npx tsx src/dataplane/xdp/build.ts [--force] [--output FILE]` builds from the command line
// (the Makefile's hook; the image build passes --output).
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--output');
  const output = at < 0 ? undefined : process.argv[at + 1];
  if (at >= 0 && output === undefined) throw new Error('--output needs a file name');
  console.log(buildBpfObject({ force: process.argv.includes('--force'), ...(output === undefined ? {} : { output }) }));
}
