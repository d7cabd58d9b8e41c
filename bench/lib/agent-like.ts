// Runs a benchmark's measuring child the way bin/vipgate runs the agent: bundled to plain
// JavaScript (the same esbuild options as scripts/build.mjs) and with the same node flags, so a
// measured peak RSS is the agent's, not tsx's (its loader thread alone is ~35 MB).
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import { projectRoot } from '../../src/project-root.ts';

/** The node flags bin/vipgate gives the agent (its NODE_FLAGS line). */
export function agentNodeFlags(): string[] {
  const bin = readFileSync(join(projectRoot(), 'bin', 'vipgate'), 'utf8');
  const m = /^NODE_FLAGS="([^"]*)"$/m.exec(bin);
  if (m === null) throw new Error('bin/vipgate has no NODE_FLAGS="…" line');
  return m[1]!.split(' ').filter((f) => f !== '');
}

/**
 * `node <flags> <bundle>` for a TypeScript entry: bundled into bench/.build/ (inside the
 * checkout, so that npm packages resolve from node_modules as they do for dist/).
 */
export async function agentLikeCommand(entry: string): Promise<string[]> {
  const outfile = join(projectRoot(), 'bench', '.build', `${basename(entry).replace(/\.ts$/, '')}.mjs`);
  await build({ entryPoints: [entry], outfile, bundle: true, format: 'esm', platform: 'node', target: 'node20', packages: 'external', logLevel: 'warning' });
  return [process.execPath, ...agentNodeFlags(), outfile];
}
