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
