import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/index.ts';
import type { Dataplane } from '../dataplane/dataplane.ts';
import { AgentError, AgentErrorCode } from './errors.ts';

const run = promisify(execFile);
const BPFFS_ROOT = '/sys/fs/bpf';

/**
 * Pinned XDP maps need a bpf filesystem. Where /sys/fs/bpf is not one (this lab kernel, many
 * minimal hosts), mount it: in a network namespace entered with `ip netns exec` the mount stays
 * private to that namespace's mount namespace.
 */
async function ensureBpffs(pinDir: string, log: Logger): Promise<void> {
  const fsType = async (dir: string): Promise<string> => (await run('stat', ['-f', '-c', '%T', dir])).stdout.trim();
  if (pinDir.startsWith(`${BPFFS_ROOT}/`) && (await fsType(BPFFS_ROOT)) !== 'bpf_fs') {
    await run('mount', ['-t', 'bpf', 'bpf', BPFFS_ROOT]);
    log.info({ dir: BPFFS_ROOT }, 'mounted a bpf filesystem for the pinned XDP maps');
  }
  await mkdir(pinDir, { recursive: true });
}

/** The dataplane the config asks for, and a word on how it talks to the kernel (for the log). */
export async function createDataplane(config: AgentConfig, log: Logger): Promise<{ dataplane: Dataplane; detail: string }> {
  const { engine } = config.dataplane;
  if (engine === 'nftables') {
    const { describeKernel, nftablesDataplane, openNftKernel } = await import('../dataplane/nftables/index.ts');
    const kernel = openNftKernel({ log });
    return { dataplane: nftablesDataplane({ kernel, log }), detail: `nftables via ${describeKernel(kernel.chosen)}` };
  }
  if (engine === 'xdp') {
    const xdp = config.dataplane.xdp;
    if (xdp === undefined) throw new AgentError(AgentErrorCode.dataplaneFailed, 'dataplane.engine xdp needs dataplane.xdp.interfaces');
    await ensureBpffs(xdp.pinDir, log);
    // Loaded on demand: clang and libbpf are only needed by nodes that use XDP.
    const { xdpDataplane } = await import('../dataplane/xdp/index.ts');
    const v4 = xdp.snatAddresses.find((a) => !a.includes(':'));
    const v6 = xdp.snatAddresses.find((a) => a.includes(':'));
    const dataplane = xdpDataplane({
      interfaces: xdp.interfaces,
      mode: xdp.mode,
      forwarding: xdp.forwarding,
      mtu: xdp.mtu,
      guePort: xdp.guePort,
      pinDir: xdp.pinDir,
      snatAddresses: { ...(v4 === undefined ? {} : { v4 }), ...(v6 === undefined ? {} : { v6 }) },
      log,
    });
    return { dataplane, detail: `xdp (${xdp.forwarding}, ${xdp.mode}) on ${xdp.interfaces.join(', ')}` };
  }
  throw new AgentError(AgentErrorCode.dataplaneFailed, `dataplane.engine ${engine} is not available yet; allowed: nftables, xdp`);
}
