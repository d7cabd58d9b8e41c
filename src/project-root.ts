// Where the checkout is, found from the running file: the same answer from TypeScript under tsx
// (src/…) and from the bundle (dist/…), whose chunks sit at other depths.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The directory holding vipgate's package.json, above this module. */
export function projectRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'vipgate') return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`vipgate's package.json is not above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}
