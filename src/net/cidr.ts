import { ADDRESS_BITS, compareIp, formatIp, parseIp, type Family, type IpAddress } from './address.ts';
import { NetError, NetErrorCode } from './errors.ts';

/** A prefix: the network address (host bits zero) and its length. */
export interface Cidr {
  readonly family: Family;
  /** Network address as an integer; host bits are always zero. */
  readonly network: bigint;
  readonly prefixLength: number;
}

/** An inclusive range of addresses of one family, first ≤ last. */
export interface IpRange {
  readonly family: Family;
  readonly first: bigint;
  readonly last: bigint;
}

function hostMask(family: Family, prefixLength: number): bigint {
  return (1n << BigInt(ADDRESS_BITS[family] - prefixLength)) - 1n;
}

export interface ParseCidrOptions {
  /** Accept "10.0.0.5/24" and clear the host bits instead of refusing it. */
  readonly allowHostBits?: boolean;
}

/**
 * Parses "10.200.0.0/16" or "fd00:200::/64". A bare address is a host prefix (/32, /128).
 * Host bits set ("10.0.0.5/24") are refused unless `allowHostBits`: they are usually a typo.
 */
export function parseCidr(text: string, options: ParseCidrOptions = {}): Cidr {
  const slash = text.indexOf('/');
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  const bits = ADDRESS_BITS[address.family];
  let prefixLength: number = bits;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > bits) {
      throw new NetError(
        NetErrorCode.badPrefix,
        `"${text}" has prefix length "${lengthText}"; IPv${address.family} allows 0 to ${bits}`,
        text,
      );
    }
    prefixLength = Number(lengthText);
  }
  const mask = hostMask(address.family, prefixLength);
  if ((address.value & mask) !== 0n && options.allowHostBits !== true) {
    const network = formatIp({ family: address.family, value: address.value & ~mask });
    throw new NetError(
      NetErrorCode.hostBitsSet,
      `"${text}" has host bits set; the network is ${network}/${prefixLength}`,
      text,
    );
  }
  return { family: address.family, network: address.value & ~mask, prefixLength };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp({ family: cidr.family, value: cidr.network })}/${cidr.prefixLength}`;
}

/** The prefix of the given length that holds `address` (host bits cleared). */
export function cidrOf(address: IpAddress, prefixLength: number): Cidr {
  return {
    family: address.family,
    network: address.value & ~hostMask(address.family, prefixLength),
    prefixLength,
  };
}

export function hostCidr(address: IpAddress): Cidr {
  return { family: address.family, network: address.value, prefixLength: ADDRESS_BITS[address.family] };
}

export function cidrToRange(cidr: Cidr): IpRange {
  return {
    family: cidr.family,
    first: cidr.network,
    last: cidr.network | hostMask(cidr.family, cidr.prefixLength),
  };
}

export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt(ADDRESS_BITS[cidr.family] - cidr.prefixLength);
}

export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  return (
    cidr.family === address.family &&
    (address.value & ~hostMask(cidr.family, cidr.prefixLength)) === cidr.network
  );
}

/** True when every address of `inner` is in `outer`. */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    outer.prefixLength <= inner.prefixLength &&
    cidrContains(outer, { family: inner.family, value: inner.network })
  );
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrCovers(a, b) || cidrCovers(b, a);
}

/**
 * Parses "10.200.0.10-10.200.0.20" (inclusive) or a CIDR, as a range.
 * Both ends must be of one family and in order.
 */
export function parseRange(text: string): IpRange {
  const dash = text.indexOf('-');
  if (dash < 0) return cidrToRange(parseCidr(text));
  const first = parseIp(text.slice(0, dash).trim());
  const last = parseIp(text.slice(dash + 1).trim());
  if (first.family !== last.family) {
    throw new NetError(NetErrorCode.familyMismatch, `"${text}" mixes IPv4 and IPv6`, text);
  }
  if (compareIp(first, last) > 0) {
    throw new NetError(NetErrorCode.badRange, `"${text}" ends before it starts`, text);
  }
  return { family: first.family, first: first.value, last: last.value };
}

export function formatRange(range: IpRange): string {
  return `${formatIp({ family: range.family, value: range.first })}-${formatIp({ family: range.family, value: range.last })}`;
}

export function rangeSize(range: IpRange): bigint {
  return range.last - range.first + 1n;
}

export function rangeContains(range: IpRange, address: IpAddress): boolean {
  return range.family === address.family && address.value >= range.first && address.value <= range.last;
}

export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

/**
 * The fewest CIDRs that cover exactly the range (a route can't name a range).
 */
export function rangeToCidrs(range: IpRange): string[] {
  const bits = ADDRESS_BITS[range.family];
  const out: string[] = [];
  let current = range.first;
  while (current <= range.last) {
    let prefixLength = 0;
    // The shortest prefix that starts exactly here and ends inside the range.
    for (; prefixLength < bits; prefixLength++) {
      const cidr = cidrOf({ family: range.family, value: current }, prefixLength);
      if (cidr.network === current && cidrToRange(cidr).last <= range.last) break;
    }
    const cidr = cidrOf({ family: range.family, value: current }, prefixLength);
    out.push(formatCidr(cidr));
    current = cidrToRange(cidr).last + 1n;
  }
  return out;
}
