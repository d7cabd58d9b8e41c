// Backends for the XDP engine's `ipip`/`gue` forwarding (docs/design/006-xdp-encap-icmp.md): each
// pod takes the client's packet out of the outer header, accepts any VIP as its own and answers
// the client directly (direct server return). Real nodes use the kernel's ipip/fou devices
// (`ip link add … type ipip`, `ip fou add port 6080 gue`) and the VIP on a dummy link; the lab
// kernel has neither, so a small XDP program decapsulates (lab/backend-decap.c) and a `local`
// route on lo holds the VIP range.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { clangArgs } from '../src/dataplane/xdp/build.ts';
import { projectRoot } from '../src/project-root.ts';
import type { Lab } from './lab.ts';
import { POD_IFNAME } from './topology.ts';

export const BACKEND_DECAP_SOURCE = join(projectRoot(), 'lab', 'backend-decap.c');

/** Compiles the decapsulating program into `dir`; returns the object's path. */
export function buildBackendDecap(dir: string): string {
  const object = join(dir, 'backend-decap.o');
  const result = spawnSync('clang', clangArgs(BACKEND_DECAP_SOURCE, object), { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) {
    throw new Error(`clang could not build ${BACKEND_DECAP_SOURCE}: ${result.error?.message ?? result.stderr}`);
  }
  return object;
}

export interface DirectReturnOptions {
  /** The pods that serve (they decapsulate and hold the VIPs). */
  readonly pods: readonly string[];
  /** VIP ranges the pods accept as local (e.g. 10.200.0.0/16, fd00:200::/64). */
  readonly vipCidrs: readonly string[];
  /** A directory for the compiled program. */
  readonly dir: string;
}

/**
 * Turns the lab's pods into direct-return backends: the decapsulating program on each pod's
 * interface (generic XDP) and the VIP ranges local on its lo. Replies leave from the VIP through
 * the pod's node, which forwards them like any other packet (lab namespaces start with
 * reverse-path filtering off; a node with rp_filter=1 would drop them).
 */
export async function directReturnBackends(lab: Lab, options: DirectReturnOptions): Promise<void> {
  const object = buildBackendDecap(options.dir);
  await Promise.all(
    options.pods.map(async (pod) => {
      await lab.exec(pod, ['ip', 'link', 'set', 'dev', POD_IFNAME, 'xdpgeneric', 'obj', object, 'sec', 'xdp']);
      for (const cidr of options.vipCidrs) await lab.exec(pod, ['ip', cidr.includes(':') ? '-6' : '-4', 'route', 'add', 'local', cidr, 'dev', 'lo']);
    }),
  );
}
