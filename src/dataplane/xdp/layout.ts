// TypeScript mirror of bpf/vipgate.h: sizes, offsets and byte order of every map key and value.
// layout.test.ts pins these against the compiled object's BTF so the two cannot drift.
import { ipFromBytes, ipToBytes, formatIp, parseCidr, parseIp, type Family } from '../../net/index.ts';

/** `network`: big-endian as on the wire; `host`: the machine's order (little-endian on x86/arm64). */
export type ByteOrder = 'network' | 'host' | 'bytes';

export interface FieldLayout {
  readonly offset: number;
  readonly size: number;
  readonly order: ByteOrder;
}

export interface StructLayout {
  readonly name: string;
  readonly size: number;
  readonly fields: Readonly<Record<string, FieldLayout>>;
}

const f = (offset: number, size: number, order: ByteOrder): FieldLayout => ({ offset, size, order });

export const LAYOUTS = {
  serviceKey: { name: 'vg_service_key', size: 20, fields: { addr: f(0, 16, 'bytes'), port: f(16, 2, 'network'), proto: f(18, 1, 'host'), pad: f(19, 1, 'host') } },
  service: {
    name: 'vg_service',
    size: 24,
    fields: { slot: f(0, 4, 'host'), ring_size: f(4, 4, 'host'), flags: f(8, 4, 'host'), pad: f(12, 4, 'host'), ring_hash: f(16, 8, 'host') },
  },
  backend: {
    name: 'vg_backend',
    size: 24,
    fields: { addr: f(0, 16, 'bytes'), port: f(16, 2, 'network'), family: f(18, 1, 'host'), flags: f(19, 1, 'host'), slot: f(20, 4, 'host') },
  },
  flowKey: {
    name: 'vg_flow_key',
    size: 40,
    fields: { src: f(0, 16, 'bytes'), dst: f(16, 16, 'bytes'), sport: f(32, 2, 'network'), dport: f(34, 2, 'network'), proto: f(36, 1, 'host'), pad: f(37, 3, 'bytes') },
  },
  flow: { name: 'vg_flow', size: 8, fields: { backend: f(0, 4, 'host'), snat_port: f(4, 2, 'network'), reply_seen: f(6, 2, 'host') } },
  reverse: {
    name: 'vg_reverse',
    size: 40,
    fields: { client: f(0, 16, 'bytes'), vip: f(16, 16, 'bytes'), client_port: f(32, 2, 'network'), vip_port: f(34, 2, 'network'), closing: f(36, 4, 'host') },
  },
  lpmKey: { name: 'vg_lpm_key', size: 20, fields: { prefixlen: f(0, 4, 'host'), addr: f(4, 16, 'bytes') } },
  allowKey: { name: 'vg_allow_key', size: 24, fields: { prefixlen: f(0, 4, 'host'), slot: f(4, 4, 'network'), addr: f(8, 16, 'bytes') } },
  counters: { name: 'vg_counters', size: 16, fields: { packets: f(0, 8, 'host'), bytes: f(8, 8, 'host') } },
  config: {
    name: 'vg_config',
    size: 48,
    fields: {
      snat4: f(0, 16, 'bytes'),
      snat6: f(16, 16, 'bytes'),
      mode: f(32, 4, 'host'),
      flags: f(36, 4, 'host'),
      snat_port_min: f(40, 2, 'host'),
      snat_port_max: f(42, 2, 'host'),
      mtu: f(44, 2, 'host'),
      gue_port: f(46, 2, 'network'),
    },
  },
  icmpLimit: { name: 'vg_icmp_limit', size: 8, fields: { per_sec: f(0, 4, 'host'), burst: f(4, 4, 'host') } },
  icmpState: { name: 'vg_icmp_state', size: 32, fields: { credit_ns: f(0, 8, 'host'), last_ns: f(8, 8, 'host'), sent: f(16, 8, 'host'), limited: f(24, 8, 'host') } },
} as const satisfies Record<string, StructLayout>;

/** Constants of vipgate.h. */
export const SERVICE_FLAGS = { sourcesRestricted: 1, affinityClientIp: 2, snat: 4 } as const;
export const BACKEND_FLAGS = { present: 1 } as const;
export const MODES = { nat: 0, 'dsr-l2': 1, ipip: 2, gue: 3 } as const;
export type ForwardingMode = keyof typeof MODES;
/** vipgate.h VG_ICMP_*_DEFAULT: ICMP "too big" answers per second and CPU, and the burst, for a 0 in vg_icmp_limit. */
export const ICMP_LIMIT_DEFAULTS = { perSecond: 1000, burst: 50 } as const;

/** vg_icmp_limit's value. */
export function encodeIcmpLimit(limit: { readonly perSecond: number; readonly burst: number }): Uint8Array {
  const L = LAYOUTS.icmpLimit;
  const out = new Uint8Array(L.size);
  const v = new DataView(out.buffer);
  v.setUint32(L.fields.per_sec.offset, limit.perSecond, LITTLE_ENDIAN);
  v.setUint32(L.fields.burst.offset, limit.burst, LITTLE_ENDIAN);
  return out;
}

/** vipgate.h VG_MTU_DEFAULT / VG_GUE_PORT_DEFAULT: what the program uses for a 0 in vg_config. */
export const ENCAP_DEFAULTS = { mtu: 1500, guePort: 6080 } as const;
/** Bytes the outer headers add (docs/design/006-xdp-encap-icmp.md): IPv4/IPv6, plus UDP for GUE. */
/** IPv6's minimum link MTU (RFC 8200 §5) plus the largest outer header: below it a client would be
 * told an MTU IPv6 does not allow, and an ICMP error could no longer be encapsulated whole. */
export const MIN_ENCAP_MTU = 1280 + 48;
export const ENCAP_OVERHEAD = { ipip: { 4: 20, 6: 40 }, gue: { 4: 28, 6: 48 } } as const;
export const CONFIG_FLAGS = { noFib: 1 } as const;
export const CAPACITY = { services: 65_536, backends: 131_072, flows: 131_072, sourceRanges: 65_536 } as const;
export const IPPROTO = { tcp: 6, udp: 17 } as const;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function view(bytes: Uint8Array): DataView {
  // Pooled Node buffers don't start at offset 0 of their ArrayBuffer.
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
const u16 = (v: DataView, o: number, x: number, order: ByteOrder): void => v.setUint16(o, x, order === 'host' ? LITTLE_ENDIAN : false);
const u32 = (v: DataView, o: number, x: number, order: ByteOrder): void => v.setUint32(o, x, order === 'host' ? LITTLE_ENDIAN : false);

/** 16 bytes, IPv4 mapped into ::ffff:0:0/96 as vipgate.h stores it. */
export function addr16(text: string): Uint8Array {
  return mapped16(parseIp(text));
}

function mapped16(ip: ReturnType<typeof parseIp>): Uint8Array {
  const raw = ipToBytes(ip);
  if (ip.family === 6) return raw;
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(raw, 12);
  return out;
}

export function addrFrom16(bytes: Uint8Array, family: Family): string {
  return formatIp(ipFromBytes(family === 4 ? bytes.subarray(12, 16) : bytes.subarray(0, 16)));
}

export interface ServiceKey {
  readonly address: string;
  readonly port: number;
  readonly protocol: keyof typeof IPPROTO;
}

export function encodeServiceKey(key: ServiceKey): Uint8Array {
  const L = LAYOUTS.serviceKey;
  const out = new Uint8Array(L.size);
  const v = view(out);
  out.set(addr16(key.address), L.fields.addr.offset);
  u16(v, L.fields.port.offset, key.port, L.fields.port.order);
  out[L.fields.proto.offset] = IPPROTO[key.protocol];
  return out;
}

export interface ServiceValue {
  readonly slot: number;
  readonly ringSize: number;
  readonly flags: number;
  readonly ringHash: bigint;
}

export function encodeService(s: ServiceValue): Uint8Array {
  const L = LAYOUTS.service;
  const out = new Uint8Array(L.size);
  const v = view(out);
  u32(v, L.fields.slot.offset, s.slot, 'host');
  u32(v, L.fields.ring_size.offset, s.ringSize, 'host');
  u32(v, L.fields.flags.offset, s.flags, 'host');
  v.setBigUint64(L.fields.ring_hash.offset, s.ringHash, LITTLE_ENDIAN);
  return out;
}

export function decodeService(bytes: Uint8Array): ServiceValue {
  const L = LAYOUTS.service;
  const v = view(bytes);
  return {
    slot: v.getUint32(L.fields.slot.offset, LITTLE_ENDIAN),
    ringSize: v.getUint32(L.fields.ring_size.offset, LITTLE_ENDIAN),
    flags: v.getUint32(L.fields.flags.offset, LITTLE_ENDIAN),
    ringHash: v.getBigUint64(L.fields.ring_hash.offset, LITTLE_ENDIAN),
  };
}

export interface BackendValue {
  readonly address: string;
  readonly port: number;
  readonly present: boolean;
  /** Slot of the service this entry serves. */
  readonly slot: number;
}

export function encodeBackend(b: BackendValue): Uint8Array {
  const L = LAYOUTS.backend;
  const out = new Uint8Array(L.size);
  // Parsed once: a cold pass encodes 100,000 of these.
  const ip = parseIp(b.address);
  out.set(mapped16(ip), L.fields.addr.offset);
  const v = view(out);
  u16(v, L.fields.port.offset, b.port, L.fields.port.order);
  out[L.fields.family.offset] = ip.family;
  out[L.fields.flags.offset] = b.present ? BACKEND_FLAGS.present : 0;
  u32(v, L.fields.slot.offset, b.slot, 'host');
  return out;
}

/** undefined for an empty (never written or cleared) slot. */
export function decodeBackend(bytes: Uint8Array): BackendValue | undefined {
  const L = LAYOUTS.backend;
  const family = bytes[L.fields.family.offset];
  if (family !== 4 && family !== 6) return undefined;
  return {
    address: addrFrom16(bytes.subarray(0, 16), family),
    port: view(bytes).getUint16(L.fields.port.offset, false),
    present: ((bytes[L.fields.flags.offset] ?? 0) & BACKEND_FLAGS.present) !== 0,
    slot: view(bytes).getUint32(L.fields.slot.offset, LITTLE_ENDIAN),
  };
}

/** An LPM key for a CIDR; IPv4 prefixes count the 96 bits of the mapped prefix. */
export function encodeLpmKey(cidr: string): Uint8Array {
  const L = LAYOUTS.lpmKey;
  const c = parseCidr(cidr, { allowHostBits: true });
  const out = new Uint8Array(L.size);
  u32(view(out), L.fields.prefixlen.offset, (c.family === 4 ? 96 : 0) + c.prefixLength, 'host');
  out.set(addr16(formatIp({ family: c.family, value: c.network })), L.fields.addr.offset);
  return out;
}

export function encodeAllowKey(slot: number, cidr: string): Uint8Array {
  const L = LAYOUTS.allowKey;
  const c = parseCidr(cidr, { allowHostBits: true });
  const out = new Uint8Array(L.size);
  const v = view(out);
  u32(v, L.fields.prefixlen.offset, 32 + (c.family === 4 ? 96 : 0) + c.prefixLength, 'host');
  u32(v, L.fields.slot.offset, slot, L.fields.slot.order);
  out.set(addr16(formatIp({ family: c.family, value: c.network })), L.fields.addr.offset);
  return out;
}

export interface ConfigValue {
  readonly snat4?: string;
  readonly snat6?: string;
  readonly mode: keyof typeof MODES;
  readonly flags: number;
  readonly snatPortMin: number;
  readonly snatPortMax: number;
  /** Egress MTU toward backends in ipip/gue (0 or absent: ENCAP_DEFAULTS.mtu in the program). */
  readonly mtu?: number;
  /** GUE destination port (0 or absent: ENCAP_DEFAULTS.guePort). */
  readonly guePort?: number;
}

export function encodeConfig(c: ConfigValue): Uint8Array {
  const L = LAYOUTS.config;
  const out = new Uint8Array(L.size);
  const v = view(out);
  if (c.snat4 !== undefined) out.set(addr16(c.snat4), L.fields.snat4.offset);
  if (c.snat6 !== undefined) out.set(addr16(c.snat6), L.fields.snat6.offset);
  u32(v, L.fields.mode.offset, MODES[c.mode], 'host');
  u32(v, L.fields.flags.offset, c.flags, 'host');
  u16(v, L.fields.snat_port_min.offset, c.snatPortMin, 'host');
  u16(v, L.fields.snat_port_max.offset, c.snatPortMax, 'host');
  u16(v, L.fields.mtu.offset, c.mtu ?? 0, L.fields.mtu.order);
  u16(v, L.fields.gue_port.offset, c.guePort ?? 0, L.fields.gue_port.order);
  return out;
}

export function encodeU32(x: number): Uint8Array {
  const out = new Uint8Array(4);
  u32(view(out), 0, x, 'host');
  return out;
}

export function decodeU32(bytes: Uint8Array): number {
  return view(bytes).getUint32(0, LITTLE_ENDIAN);
}

/** Sums a per-CPU counters value (one vg_counters per possible CPU, 8-byte aligned). */
export function sumCounters(bytes: Uint8Array, cpus: number): { packets: bigint; bytes: bigint } {
  const v = view(bytes);
  let packets = 0n;
  let total = 0n;
  for (let cpu = 0; cpu < cpus; cpu++) {
    const base = cpu * LAYOUTS.counters.size;
    packets += v.getBigUint64(base + LAYOUTS.counters.fields.packets.offset, LITTLE_ENDIAN);
    total += v.getBigUint64(base + LAYOUTS.counters.fields.bytes.offset, LITTLE_ENDIAN);
  }
  return { packets, bytes: total };
}
