// A private bpf filesystem for one test file or benchmark: pinned maps of one run never meet
// another's, and nothing is left on the machine's /sys/fs/bpf. Root.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PrivateBpffs {
  readonly dir: string;
  /** Unmounts it and removes the mount point. */
  unmount(): void;
}

export function mountPrivateBpffs(prefix = 'vgtxdp-'): PrivateBpffs {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync('mount', ['-t', 'bpf', 'bpf', dir]);
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir]);
      rmdirSync(dir);
    },
  };
}
