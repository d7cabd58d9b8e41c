// The node's interfaces as L2 mode needs them: their global addresses with prefix lengths (the
// subnets VIPs and peers must sit in). Read from Node's own view of the interfaces (the process's
// network namespace), no command spawned: a settings change or a pass may read it.
import { networkInterfaces } from 'node:os';
import { cidrContains, cidrOf, parseIp, tryParseIp, type IpAddress } from '../net/index.ts';
import { checkL2Interfaces, formatIssue, type AgentConfig, type InterfaceAddress, type L2Config } from '../config/index.ts';

/** Interface name → its addresses (link-local IPv6 left out: a VIP or a peer is never in fe80::/10). */
export type InterfaceTable = ReadonlyMap<string, readonly InterfaceAddress[]>;

export function readInterfaces(): InterfaceTable {
  const table = new Map<string, InterfaceAddress[]>();
  for (const [name, entries] of Object.entries(networkInterfaces())) {
    const addresses: InterfaceAddress[] = [];
    for (const e of entries ?? []) {
      if (e.family === 'IPv6' && e.address.toLowerCase().startsWith('fe80')) continue;
      const prefixLength = Number(e.cidr?.split('/')[1]);
      if (Number.isInteger(prefixLength)) addresses.push({ address: e.address, prefixLength });
    }
    table.set(name, addresses);
  }
  return table;
}

/** Whether one of `addresses` has a subnet holding `ip` (same family). */
export function subnetHolds(addresses: readonly InterfaceAddress[], ip: IpAddress): InterfaceAddress | undefined {
  return addresses.find((a) => {
    const own = tryParseIp(a.address);
    return own !== undefined && own.family === ip.family && cidrContains(cidrOf(own, a.prefixLength), ip);
  });
}

/**
 * The `l2` section's problems on this node (an interface it lacks, a pool outside the interfaces'
 * subnets), in the words of a config error naming `from`; undefined when there are none.
 */
export function l2HostProblems(config: AgentConfig, from: string, interfaces: InterfaceTable = readInterfaces()): string | undefined {
  if (config.l2 === undefined) return undefined;
  const issues = checkL2Interfaces(config.l2, config.pools, interfaces, from);
  return issues.length === 0 ? undefined : `${from}: the l2 section does not fit this node's interfaces\n${issues.map(formatIssue).join('\n')}`;
}

/** Our address facing `peer`: one on an L2 interface whose subnet holds the peer's address. */
export function localAddressFacing(peer: string, l2: L2Config, interfaces: InterfaceTable): string | undefined {
  const ip = parseIp(peer);
  for (const name of new Set(l2.advertisements.flatMap((a) => a.interfaces))) {
    const own = subnetHolds(interfaces.get(name) ?? [], ip);
    if (own !== undefined) return own.address;
  }
  return undefined;
}
