import { NetError, NetErrorCode } from './errors.ts';

/** IP version: 4 or 6. */
export type Family = 4 | 6;

/**
 * An IPv4 or IPv6 address. The value is the address as an unsigned integer (32 or 128 bits),
 * which makes ordering, containment and "next address" plain arithmetic.
 */
export interface IpAddress {
  readonly family: Family;
  readonly value: bigint;
}

export const ADDRESS_BITS = { 4: 32, 6: 128 } as const satisfies Record<Family, number>;

export function maxValue(family: Family): bigint {
  return (1n << BigInt(ADDRESS_BITS[family])) - 1n;
}

export function ipv4(value: bigint): IpAddress {
  return { family: 4, value };
}

const V4_OCTET = /^(0|[1-9][0-9]{0,2})$/;

function parseV4Value(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  // A plain number (32 bits fit a double exactly) and one BigInt at the end, instead of four
  // BigInt shifts per address: this runs for every prefix of a BGP set and every VIP of a pass.
  let value = 0;
  for (const part of parts) {
    // Leading zeros are refused: "010" means 8 to some parsers and 10 to others.
    if (!V4_OCTET.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return BigInt(value);
}

const V6_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseV6Groups(side: string): number[] | undefined {
  if (side === '') return [];
  const groups: number[] = [];
  const parts = side.split(':');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === parts.length - 1 && part.includes('.')) {
      // RFC 4291 §2.2 form 3: the low 32 bits written as dotted IPv4.
      const v4 = parseV4Value(part);
      if (v4 === undefined) return undefined;
      groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      continue;
    }
    if (!V6_GROUP.test(part)) return undefined;
    groups.push(parseInt(part, 16));
  }
  return groups;
}

function parseV6Value(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = parseV6Groups(halves[0]!);
  const tail = halves.length === 2 ? parseV6Groups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    // "::" stands for one or more zero groups (RFC 4291 §2.2).
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

/** Parses an IPv4 or IPv6 address in text form. Throws NetError on anything else. */
export function parseIp(text: string): IpAddress {
  const value = text.includes(':') ? parseV6Value(text) : parseV4Value(text);
  if (value === undefined) {
    throw new NetError(NetErrorCode.badAddress, `"${text}" is not an IPv4 or IPv6 address`, text);
  }
  return { family: text.includes(':') ? 6 : 4, value };
}

/** Like parseIp, but returns undefined instead of throwing. */
export function tryParseIp(text: string): IpAddress | undefined {
  const value = text.includes(':') ? parseV6Value(text) : parseV4Value(text);
  return value === undefined ? undefined : { family: text.includes(':') ? 6 : 4, value };
}

function formatV4(value: bigint): string {
  const n = Number(value);
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952 canonical text: lower case, no leading zeros, the longest zero run (≥2) as "::". */
function formatV6(value: bigint): string {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical text of an address; equal addresses always format the same (usable as map keys). */
export function formatIp(address: IpAddress): string {
  return address.family === 4 ? formatV4(address.value) : formatV6(address.value);
}

/** Canonical form of an address given as text. Throws NetError if it is not one. */
export function canonicalIp(text: string): string {
  return formatIp(parseIp(text));
}

export function sameAddress(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.value === b.value;
}

/** Orders IPv4 before IPv6, then numerically. */
export function compareIp(a: IpAddress, b: IpAddress): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/** The address `offset` after `address`, or undefined past the end of the family's space. */
export function addToIp(address: IpAddress, offset: bigint): IpAddress | undefined {
  const value = address.value + offset;
  if (value < 0n || value > maxValue(address.family)) return undefined;
  return { family: address.family, value };
}

/** Network-order bytes (4 or 16), for wire codecs and kernel maps. */
export function ipToBytes(address: IpAddress): Uint8Array {
  const length = address.family === 4 ? 4 : 16;
  const out = new Uint8Array(length);
  let v = address.value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Reads a 4- or 16-byte network-order address. */
export function ipFromBytes(bytes: Uint8Array): IpAddress {
  if (bytes.length !== 4 && bytes.length !== 16) {
    throw new NetError(NetErrorCode.badAddress, `an address has 4 or 16 bytes, not ${bytes.length}`, '');
  }
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return { family: bytes.length === 4 ? 4 : 6, value };
}
