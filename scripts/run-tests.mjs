// Runs node:test over the project's test files. Node 20 does not expand globs, so the list is
// built here: `unit` = src/**/*.test.ts (no root needed), `lab` = test/**/*.test.ts (root,
// network namespaces, real daemons; run one file at a time so labs don't compete for 2 cores).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out.sort();
}

const kind = process.argv[2] ?? 'unit';
const only = process.argv.slice(3);
let files = find(kind === 'lab' ? 'test' : 'src');
if (only.length > 0) files = files.filter((f) => only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error(`no ${kind} test files found`);
  process.exit(1);
}
const args = ['--import', 'tsx', '--test', '--test-reporter=spec'];
if (kind === 'lab') args.push('--test-concurrency=1', '--test-timeout=300000');
const result = spawnSync(process.execPath, [...args, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
