// The pure half of host.apply: normalise the spec and work out which `ip` commands turn what
// the kernel reports into what the spec wants. No I/O here.
import type { VipInterfaceSpec } from '../model/index.ts';
import { formatCidr, formatIp, NetError, parseCidr, parseIp } from '../net/index.ts';
import { HostError, HostErrorCode } from './errors.ts';
import type { ObservedRoute } from './observe.ts';

export type { VipInterfaceSpec } from '../model/index.ts';

/**
 * Routes vipgate installs carry this protocol number so that they can be told apart from the
 * kernel's, the operator's and a routing daemon's (BIRD uses 12, DHCP 16, keepalived 18). 86
 * (0x56, "V") is unassigned in iproute2's rt_protos; an operator may name it there:
 * `echo "86 vipgate" > /etc/iproute2/rt_protos.d/vipgate.conf`.
 */
export const VIPGATE_ROUTE_PROTOCOL = 86;
/** The ifalias that marks a link as vipgate's: cleanup deletes only links carrying it. */
export const VIPGATE_LINK_ALIAS = 'vipgate';

/** Forwarding sysctls the LB node needs, with the value they must have. */
export const FORWARDING_SYSCTLS = ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'] as const;

export interface NormalizedSpec {
  readonly name: string;
  /** Canonical "address/len" (RFC 5952 for IPv6), duplicates removed. */
  readonly addresses: readonly string[];
  /** Canonical prefixes, duplicates removed. */
  readonly routes: readonly string[];
}

const LINK_NAME = /^[^\s/:]{1,15}$/;

function badSpec(message: string, cause?: unknown): HostError {
  return new HostError(HostErrorCode.badSpec, message, cause === undefined ? undefined : { cause });
}

/** Validates the spec and puts every address and prefix in canonical form. */
export function normalizeSpec(spec: VipInterfaceSpec): NormalizedSpec {
  if (!LINK_NAME.test(spec.name) || spec.name === '.' || spec.name === '..') {
    throw badSpec(`VIP interface name "${spec.name}" is not a valid link name: use 1 to 15 characters without "/", ":" or whitespace`);
  }
  const addresses = spec.addresses.map((text) => {
    const slash = text.indexOf('/');
    if (slash < 0) throw badSpec(`VIP interface address "${text}" needs a prefix length, e.g. "10.200.0.1/24"`);
    try {
      const cidr = parseCidr(text, { allowHostBits: true });
      return `${formatIp(parseIp(text.slice(0, slash)))}/${cidr.prefixLength}`;
    } catch (cause) {
      throw badSpec(`VIP interface address "${text}": ${cause instanceof NetError ? cause.message : String(cause)}`, cause);
    }
  });
  const routes = spec.routes.map((text) => {
    try {
      return formatCidr(parseCidr(text));
    } catch (cause) {
      throw badSpec(`VIP interface route "${text}": ${cause instanceof NetError ? cause.message : String(cause)}`, cause);
    }
  });
  return { name: spec.name, addresses: [...new Set(addresses)], routes: [...new Set(routes)] };
}

function isV6(addressOrCidr: string): boolean {
  return addressOrCidr.includes(':');
}

/**
 * Commands that make the link's addresses exactly `desired`: extra ones removed first, missing
 * ones added with `noprefixroute` (the spec's routes are the only routes vipgate wants) and, for
 * IPv6, `nodad` so the address is usable at once.
 */
export function planAddresses(name: string, desired: readonly string[], observed: readonly string[]): string[][] {
  const want = new Set(desired);
  const have = new Set(observed);
  const remove = observed.filter((a) => !want.has(a)).map((a) => ['ip', 'addr', 'del', a, 'dev', name]);
  const add = desired
    .filter((a) => !have.has(a))
    .map((a) => ['ip', 'addr', 'add', a, 'dev', name, ...(isV6(a) ? ['nodad'] : []), 'noprefixroute']);
  return [...remove, ...add];
}

/**
 * Commands that make vipgate's routes (those with our protocol number, as listed by
 * `ip route show proto 86`) exactly the spec's prefixes on the link. Others' routes are never
 * listed, so never touched.
 */
export function planRoutes(name: string, desired: readonly string[], observed: readonly ObservedRoute[]): string[][] {
  const proto = String(VIPGATE_ROUTE_PROTOCOL);
  const want = new Set(desired);
  const correct = new Set(observed.filter((r) => r.dev === name && want.has(r.dst)).map((r) => r.dst));
  const remove = observed
    .filter((r) => r.dev !== name || !want.has(r.dst))
    .map((r) => ['ip', ...(isV6(r.dst) ? ['-6'] : []), 'route', 'del', r.dst, ...(r.dev === undefined ? [] : ['dev', r.dev]), 'proto', proto]);
  const add = desired
    .filter((d) => !correct.has(d))
    .map((d) => ['ip', ...(isV6(d) ? ['-6'] : []), 'route', 'add', d, 'dev', name, 'proto', proto]);
  return [...remove, ...add];
}
