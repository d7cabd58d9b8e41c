import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

interface IpRoute {
  readonly dev?: string;
}
interface IpAddrInfo {
  readonly family: string;
  readonly local: string;
  readonly scope: string;
}
interface IpLink {
  readonly ifname: string;
  readonly addr_info?: readonly IpAddrInfo[];
}

/**
 * The global addresses on the interfaces of this node's default routes: what a client or router
 * would use as the next hop for the VIP CIDR. Reads only (`ip -j`); never changes anything.
 */
export async function defaultRouteAddresses(excludeInterface?: string): Promise<string[]> {
  const out: string[] = [];
  for (const family of ['-4', '-6'] as const) {
    try {
      const routes = JSON.parse((await run('ip', ['-j', family, 'route', 'show', 'default'])).stdout || '[]') as IpRoute[];
      for (const dev of new Set(routes.map((r) => r.dev).filter((d): d is string => d !== undefined && d !== excludeInterface))) {
        const links = JSON.parse((await run('ip', ['-j', family, 'addr', 'show', 'dev', dev])).stdout || '[]') as IpLink[];
        for (const link of links) {
          for (const a of link.addr_info ?? []) if (a.scope === 'global') out.push(a.local);
        }
      }
    } catch {
      // No default route of this family, or no `ip`: the CLI then asks the user for the address.
    }
  }
  return [...new Set(out)];
}
