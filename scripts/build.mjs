#!/usr/bin/env node
// Bundles the vipgate CLI (src/cli/main.ts and everything it imports, the lab and the demo
// included) into dist/ as plain JavaScript, one chunk per dynamically imported part, so that
// `bin/vipgate` runs without compiling TypeScript at run time. tsx's loader runs in a thread of
// its own: ~35 MB of every agent's memory, measured (bench/HISTORY.md §2). npm packages stay
// outside the bundle (node_modules, as installed). Takes ~0.2 s; bin/vipgate falls back to
// tsx whenever a source file is newer than the bundle, so a stale bundle never runs.
// `--outdir DIR` bundles elsewhere (the image build stages its copy without touching dist/).
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const at = process.argv.indexOf('--outdir');
if (at >= 0 && process.argv[at + 1] === undefined) throw new Error('--outdir needs a directory');
const outdir = at >= 0 ? resolve(process.argv[at + 1]) : join(root, 'dist');
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { vipgate: 'src/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
// Written last: bin/vipgate compares the sources' times with this file's.
writeFileSync(join(outdir, 'BUILT'), `${new Date().toISOString()}\n`);
