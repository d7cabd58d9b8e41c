// Builds Ethernet/IPv4|IPv6/TCP|UDP frames with checksums computed from scratch, so fixtures
// compare the program's incremental fixes against an independent full computation.
import { ipToBytes, parseIp } from '../../src/net/index.ts';

export interface PacketSpec {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  readonly protocol: 'tcp' | 'udp';
  readonly payload?: Uint8Array;
  readonly ttl?: number;
  /** TCP flags byte (default SYN). */
  readonly tcpFlags?: number;
  readonly vlan?: number;
}

const MAC_DST = [0x02, 0, 0, 0, 0, 0x01];
const MAC_SRC = [0x02, 0, 0, 0, 0, 0x02];

function sum16(bytes: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

export function packet(spec: PacketSpec): Uint8Array {
  const src = parseIp(spec.src);
  const dst = parseIp(spec.dst);
  const payload = spec.payload ?? new TextEncoder().encode('vipgate');
  const l4len = (spec.protocol === 'tcp' ? 20 : 8) + payload.length;
  const l4 = new Uint8Array(l4len);
  const v4 = new DataView(l4.buffer);
  v4.setUint16(0, spec.sport);
  v4.setUint16(2, spec.dport);
  if (spec.protocol === 'tcp') {
    v4.setUint32(4, 1000);
    l4[12] = 5 << 4;
    l4[13] = spec.tcpFlags ?? 0x02;
    v4.setUint16(14, 64240);
    l4.set(payload, 20);
  } else {
    v4.setUint16(4, l4len);
    l4.set(payload, 8);
  }
  const proto = spec.protocol === 'tcp' ? 6 : 17;
  const sa = ipToBytes(src);
  const da = ipToBytes(dst);
  const pseudo = sum16(sa) + sum16(da) + proto + l4len;
  let csum = fold(sum16(l4, pseudo));
  if (csum === 0 && spec.protocol === 'udp') csum = 0xffff;
  v4.setUint16(spec.protocol === 'tcp' ? 16 : 6, csum);
  let l3: Uint8Array;
  if (src.family === 4) {
    l3 = new Uint8Array(20);
    const v = new DataView(l3.buffer);
    l3[0] = 0x45;
    v.setUint16(2, 20 + l4len);
    v.setUint16(4, 0x1234);
    v.setUint16(6, 0x4000); // DF
    l3[8] = spec.ttl ?? 64;
    l3[9] = proto;
    l3.set(sa, 12);
    l3.set(da, 16);
    v.setUint16(10, fold(sum16(l3)));
  } else {
    l3 = new Uint8Array(40);
    const v = new DataView(l3.buffer);
    l3[0] = 0x60;
    v.setUint16(4, l4len);
    l3[6] = proto;
    l3[7] = spec.ttl ?? 64;
    l3.set(sa, 8);
    l3.set(da, 24);
  }
  const tag = spec.vlan === undefined ? [] : [0x81, 0x00, (spec.vlan >> 8) & 0x0f, spec.vlan & 0xff];
  const type = src.family === 4 ? [0x08, 0x00] : [0x86, 0xdd];
  return Uint8Array.from([...MAC_DST, ...MAC_SRC, ...tag, ...type, ...l3, ...l4]);
}

/** The L4 source port of a frame built by `packet` (no VLAN). */
export function sourcePort(frame: Uint8Array): number {
  const l4 = 14 + (frame[12] === 0x08 ? 20 : 40);
  return (frame[l4]! << 8) | frame[l4 + 1]!;
}

/** The L3 destination address bytes, as dotted or hex text for messages. */
export function destination(frame: Uint8Array): string {
  if (frame[12] === 0x08) return [...frame.subarray(30, 34)].join('.');
  return Buffer.from(frame.subarray(38, 54)).toString('hex');
}

// ---- Encapsulation and ICMP (docs/design/006-xdp-encap-icmp.md) --------------------------------
// Everything below computes headers and checksums from scratch (whole sums, never incremental),
// so fixtures check the program's shortcuts against the definitions.

export { MAC_DST, MAC_SRC };

/** One's-complement checksum of `bytes` (RFC 1071), with `initial` already summed in. */
export function checksum(bytes: Uint8Array, initial = 0): number {
  return fold(sum16(bytes, initial));
}

/** Sum of an IPv4/IPv6 pseudo-header (RFC 793 §3.1 / RFC 8200 §8.1). */
export function pseudoSum(src: string, dst: string, protocol: number, length: number): number {
  return sum16(ipToBytes(parseIp(src))) + sum16(ipToBytes(parseIp(dst))) + protocol + length;
}

export interface IpSpec {
  readonly src: string;
  readonly dst: string;
  readonly protocol: number;
  readonly ttl?: number;
  readonly tos?: number;
  readonly id?: number;
  readonly df?: boolean;
  /** IPv6 only. */
  readonly flowLabel?: number;
}

/** An IPv4 header (checksum computed) or IPv6 header for `payloadLength` bytes of payload. */
export function ipHeader(spec: IpSpec, payloadLength: number): Uint8Array {
  const src = parseIp(spec.src);
  if (src.family === 4) {
    const h = new Uint8Array(20);
    const v = new DataView(h.buffer);
    h[0] = 0x45;
    h[1] = spec.tos ?? 0;
    v.setUint16(2, 20 + payloadLength);
    v.setUint16(4, spec.id ?? 0);
    v.setUint16(6, spec.df === false ? 0 : 0x4000);
    h[8] = spec.ttl ?? 64;
    h[9] = spec.protocol;
    h.set(ipToBytes(src), 12);
    h.set(ipToBytes(parseIp(spec.dst)), 16);
    v.setUint16(10, checksum(h));
    return h;
  }
  const h = new Uint8Array(40);
  const v = new DataView(h.buffer);
  v.setUint32(0, ((6 << 28) | ((spec.tos ?? 0) << 20) | ((spec.flowLabel ?? 0) & 0xfffff)) >>> 0);
  v.setUint16(4, payloadLength);
  h[6] = spec.protocol;
  h[7] = spec.ttl ?? 64;
  h.set(ipToBytes(src), 8);
  h.set(ipToBytes(parseIp(spec.dst)), 24);
  return h;
}

/** Ethernet (+ optional 802.1Q tag) header for an IP packet of `family`. */
export function ethernet(family: 4 | 6, options: { vlan?: number; dst?: readonly number[]; src?: readonly number[] } = {}): Uint8Array {
  const tag = options.vlan === undefined ? [] : [0x81, 0x00, (options.vlan >> 8) & 0x0f, options.vlan & 0xff];
  return Uint8Array.from([...(options.dst ?? MAC_DST), ...(options.src ?? MAC_SRC), ...tag, ...(family === 4 ? [0x08, 0x00] : [0x86, 0xdd])]);
}

/** Bytes from the IP header on (after Ethernet and an optional VLAN tag). */
export function ipOf(frame: Uint8Array): Uint8Array {
  return frame.subarray(frame[12] === 0x81 ? 18 : 14);
}

const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

function mix32(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = rotl(k >>> 0, 15);
  k = Math.imul(k, 0x1b873593);
  h = (h ^ k) >>> 0;
  h = rotl(h, 13);
  return (Math.imul(h, 5) + 0xe6546b64) >>> 0;
}

function fmix32(h: number): number {
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** A copy of the program's flow_hash (bpf/vipgate_hash.h) on a little-endian host: words of the
 * v4-mapped client address as the CPU loads them, then the client port as stored (network order)
 * above the protocol. */
export function flowHash(client: string, clientPort: number, protocol: 'tcp' | 'udp'): number {
  const ip = parseIp(client);
  const a = new Uint8Array(16);
  if (ip.family === 4) {
    a[10] = 0xff;
    a[11] = 0xff;
    a.set(ipToBytes(ip), 12);
  } else a.set(ipToBytes(ip));
  const v = new DataView(a.buffer);
  let h = 0x9747b28c;
  for (let i = 0; i < 4; i++) h = mix32(h, v.getUint32(i * 4, true));
  const portAsStored = ((clientPort & 0xff) << 8) | (clientPort >> 8);
  h = mix32(h, ((portAsStored << 16) | (protocol === 'tcp' ? 6 : 17)) >>> 0);
  return fmix32(h);
}

export interface EncapSpec {
  readonly mode: 'ipip' | 'gue';
  /** Outer source (the LB) and destination (the backend). */
  readonly src: string;
  readonly dst: string;
  /** The flow hash: GUE source port and IPv6 flow label come from it. */
  readonly hash: number;
  readonly guePort?: number;
  /** Outer DF; default: the inner packet's. */
  readonly df?: boolean;
}

/** What the program should send for `frame` in ipip/gue mode: the same Ethernet header (and tag),
 * a new outer header, then the client's IP packet byte for byte. */
export function encapsulated(frame: Uint8Array, spec: EncapSpec): Uint8Array {
  const inner = ipOf(frame);
  const eth = frame.subarray(0, frame.length - inner.length);
  const v6 = (inner[0]! >> 4) === 6;
  const tos = v6 ? ((inner[0]! & 0x0f) << 4) | (inner[1]! >> 4) : inner[1]!;
  const innerDf = !v6 && (inner[6]! & 0x40) !== 0;
  const gue = spec.mode === 'gue';
  let payload = inner;
  if (gue) {
    const udp = new Uint8Array(8);
    const u = new DataView(udp.buffer);
    u.setUint16(0, 0xc000 | (spec.hash & 0x3fff));
    u.setUint16(2, spec.guePort ?? 6080);
    u.setUint16(4, 8 + inner.length);
    if (v6) {
      // The whole UDP checksum, over every byte of the inner packet.
      const c = checksum(concat(udp, inner), pseudoSum(spec.src, spec.dst, 17, 8 + inner.length));
      u.setUint16(6, c === 0 ? 0xffff : c);
    }
    payload = concat(udp, inner);
  }
  const outer = ipHeader(
    { src: spec.src, dst: spec.dst, protocol: gue ? 17 : v6 ? 41 : 4, ttl: 64, tos, id: 0, df: spec.df ?? innerDf, flowLabel: spec.hash & 0xfffff },
    payload.length,
  );
  return concat(eth, outer, payload);
}

export interface IcmpSpec {
  /** Sender of the error and its destination. */
  readonly src: string;
  readonly dst: string;
  /** The MTU to report. */
  readonly mtu: number;
  /** The quoted bytes (an IP packet or its start). */
  readonly quote: Uint8Array;
  readonly ttl?: number;
  readonly id?: number;
  readonly df?: boolean;
  readonly vlan?: number;
  readonly macs?: { readonly dst: readonly number[]; readonly src: readonly number[] };
  /** Override type/code (v4: 3/4 fragmentation needed; v6: 2/0 packet too big), e.g. echo 8/0. */
  readonly type?: number;
  readonly code?: number;
}

/** An ICMP "fragmentation needed" (RFC 1191) or ICMPv6 "packet too big" (RFC 4443) frame. */
export function icmpTooBig(spec: IcmpSpec): Uint8Array {
  const v6 = parseIp(spec.src).family === 6;
  const msg = new Uint8Array(8 + spec.quote.length);
  const v = new DataView(msg.buffer);
  msg[0] = spec.type ?? (v6 ? 2 : 3);
  msg[1] = spec.code ?? (v6 ? 0 : 4);
  if (v6) v.setUint32(4, spec.mtu);
  else v.setUint16(6, spec.mtu);
  msg.set(spec.quote, 8);
  v.setUint16(2, checksum(msg, v6 ? pseudoSum(spec.src, spec.dst, 58, msg.length) : 0));
  const ip = ipHeader({ src: spec.src, dst: spec.dst, protocol: v6 ? 58 : 1, ttl: spec.ttl ?? 64, id: spec.id ?? 0, df: spec.df ?? false }, msg.length);
  return concat(ethernet(v6 ? 6 : 4, { ...(spec.vlan === undefined ? {} : { vlan: spec.vlan }), ...(spec.macs ?? {}) }), ip, msg);
}

/** Every checksum in an IP packet that carries one, recomputed in full; the names of those that
 * don't hold. Knows IPv4 headers, TCP/UDP, ICMP/ICMPv6 and one quoted packet inside ICMP (whose
 * transport checksum is checked only when the quote holds the whole segment). */
export function badChecksums(ip: Uint8Array, where = 'packet'): string[] {
  const bad: string[] = [];
  const v6 = (ip[0]! >> 4) === 6;
  const hl = v6 ? 40 : (ip[0]! & 0x0f) * 4;
  if (!v6 && checksum(ip.subarray(0, hl)) !== 0) bad.push(`${where}: IPv4 header`);
  const proto = ip[v6 ? 6 : 9]!;
  const declared = v6 ? 40 + ((ip[4]! << 8) | ip[5]!) : (ip[2]! << 8) | ip[3]!;
  const l4 = ip.subarray(hl, Math.min(declared, ip.length));
  const whole = declared <= ip.length;
  const src = v6 ? ip.subarray(8, 24) : ip.subarray(12, 16);
  const dst = v6 ? ip.subarray(24, 40) : ip.subarray(16, 20);
  const pseudo = sum16(src) + sum16(dst) + proto + (declared - hl);
  if ((proto === 6 || proto === 17 || proto === 58) && whole) {
    const zeroUdp4 = proto === 17 && !v6 && l4[6] === 0 && l4[7] === 0;
    if (!zeroUdp4 && checksum(l4, pseudo) !== 0) bad.push(`${where}: ${proto === 6 ? 'TCP' : proto === 17 ? 'UDP' : 'ICMPv6'}`);
  }
  if (proto === 1 && whole && checksum(l4) !== 0) bad.push(`${where}: ICMP`);
  if ((proto === 1 || proto === 58) && l4.length > 8) bad.push(...badChecksums(l4.subarray(8), `${where} (quoted)`));
  return bad;
}
