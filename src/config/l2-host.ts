/**
 * What only the node can check about the `l2:` section: that the interfaces it names exist here,
 * and that the pools it names sit in those interfaces' subnets (docs/design/017-l2-mode.md,
 * "Errors"). Pure: the agent reads the interfaces and calls it at start and on every settings
 * change; and `l2InterfaceLookup` says on which interfaces a VIP is answered.
 */
import type { Pool } from '../model/index.ts';
import { ADDRESS_BITS, cidrContains, cidrOf, cidrToRange, formatCidr, parseRange, rangeContains, tryParseIp, type Cidr, type IpAddress, type IpRange } from '../net/index.ts';
import { ConfigIssueCode, type ConfigIssue } from './errors.ts';
import { formatPath, type PathSegment } from './issue.ts';
import type { InterfaceAddress, L2Config } from './types.ts';

/** The node's interfaces: name → the addresses it holds, each with the length of its subnet. */
export type HostInterfaces = ReadonlyMap<string, readonly InterfaceAddress[]>;

/**
 * Problems between the `l2:` section and this node's interfaces, as config issues of `file`
 * (without a line: the host, not the text, disagrees). An interface named in
 * `l2.advertisements[].interfaces` that the node lacks; a pool named in
 * `l2.advertisements[].pools` with addresses outside the subnets of all of that advertisement's
 * interfaces (its VIPs there would never be answered). A pool name that `pools` lacks is skipped:
 * the file's own checks report it, and from a cluster it matches no VIP.
 */
export function checkL2Interfaces(l2: L2Config, pools: readonly Pool[], interfaces: HostInterfaces, file: string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const subnets = subnetsByInterface(interfaces);
  const poolsByName = new Map(pools.map((p) => [p.name, p]));
  const existing = [...interfaces.keys()].sort().join(', ') || '(none)';
  l2.advertisements.forEach((adv, i) => {
    adv.interfaces.forEach((name, j) => {
      if (interfaces.has(name)) return;
      out.push(hostIssue(file, ConfigIssueCode.badReference, ['l2', 'advertisements', i, 'interfaces', j], name, `there is no interface "${name}" on this node`, `one of this node's interfaces: ${existing}`));
    });
    const present = adv.interfaces.filter((name) => interfaces.has(name));
    // Nothing to hold the pools when no named interface exists; that is reported above.
    if (present.length === 0) return;
    const held = present.flatMap((name) => subnets.get(name) ?? []);
    adv.pools.forEach((name, j) => {
      const pool = poolsByName.get(name);
      if (pool === undefined) return;
      const outside = pool.addresses.filter((text) => !coveredBy(parseRange(text), held));
      if (outside.length === 0) return;
      const where = present.map((n) => `${n} (${(subnets.get(n) ?? []).map(formatCidr).join(', ') || 'no addresses'})`).join(', ');
      out.push(
        hostIssue(
          file,
          ConfigIssueCode.conflict,
          ['l2', 'advertisements', i, 'pools', j],
          name,
          `pool "${name}" has ${outside.join(', ')} outside the subnets of ${where}`,
          'a pool whose addresses all lie in the subnet of one of the advertisement\'s interfaces (clients on that segment must reach its VIPs directly)',
        ),
      );
    });
  });
  return out;
}

/**
 * On which interfaces a VIP is answered: those of the advertisements that select it (its pool
 * named, or `pools: []`, which selects every VIP, also those in no pool) whose subnet holds it,
 * in the order the file names them. Empty: not answered in L2 mode. The pools, interfaces and
 * subnets are parsed once per lookup; call it once per pass and ask it for every VIP.
 */
export function l2InterfaceLookup(l2: L2Config, pools: readonly Pool[], interfaces: HostInterfaces): (vip: IpAddress) => string[] {
  const blocks = pools.flatMap((pool) => pool.addresses.map((text) => ({ pool: pool.name, range: parseRange(text) })));
  const subnets = subnetsByInterface(interfaces);
  return (vip) => {
    // Pools never overlap (the file's checks, the VIPPool admission), so the first is the only one.
    const pool = blocks.find((b) => rangeContains(b.range, vip))?.pool;
    const out: string[] = [];
    for (const adv of l2.advertisements) {
      if (adv.pools.length > 0 && (pool === undefined || !adv.pools.includes(pool))) continue;
      for (const name of adv.interfaces) {
        if (!out.includes(name) && (subnets.get(name) ?? []).some((subnet) => cidrContains(subnet, vip))) out.push(name);
      }
    }
    return out;
  };
}

/** `l2InterfaceLookup` for one VIP. */
export function l2InterfacesFor(vip: IpAddress, l2: L2Config, pools: readonly Pool[], interfaces: HostInterfaces): string[] {
  return l2InterfaceLookup(l2, pools, interfaces)(vip);
}

/**
 * Each interface's subnets (an address's network at its length), without repeats. An address
 * that is none (a zone suffix, a length past the family's bits) holds nothing: what the host
 * reports must not stop a pass.
 */
function subnetsByInterface(interfaces: HostInterfaces): Map<string, Cidr[]> {
  const out = new Map<string, Cidr[]>();
  for (const [name, addresses] of interfaces) {
    const seen = new Map<string, Cidr>();
    for (const { address, prefixLength } of addresses) {
      const ip = tryParseIp(address);
      if (ip === undefined || !Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > ADDRESS_BITS[ip.family]) continue;
      const subnet = cidrOf(ip, prefixLength);
      seen.set(formatCidr(subnet), subnet);
    }
    out.set(name, [...seen.values()]);
  }
  return out;
}

/** True when the subnets together hold every address of the range (a range may span two of them). */
function coveredBy(range: IpRange, subnets: readonly Cidr[]): boolean {
  const spans = subnets
    .filter((s) => s.family === range.family)
    .map(cidrToRange)
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  let next = range.first; // the first address not yet known to be held
  for (const span of spans) {
    if (span.first > next) return false;
    if (span.last >= next) next = span.last + 1n;
    if (next > range.last) return true;
  }
  return next > range.last;
}

function hostIssue(file: string, code: ConfigIssueCode, path: readonly PathSegment[], value: string, message: string, allowed: string): ConfigIssue {
  return { code, file, line: 0, column: 0, path: formatPath(path), value, message, allowed };
}
