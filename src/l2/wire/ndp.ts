// IPv6 Neighbor Discovery over Ethernet (RFC 4861): reading neighbour solicitations for a VIP and
// writing the advertisements that answer or announce it.
import { ipFromBytes, ipToBytes, type IpAddress } from '../../net/index.ts';
import { L2Error, L2ErrorCode } from '../errors.ts';
import { decodeEthernet, encodeEthernet, ETHERNET_HEADER_LENGTH, EtherType, type Mac } from './ethernet.ts';

const IPV6_HEADER_LENGTH = 40;
/** IPv6 next-header value of ICMPv6 (IANA protocol numbers). */
const NEXT_HEADER_ICMPV6 = 58;
/** RFC 4861 §7.1.1/§7.1.2: a node MUST drop ND messages whose hop limit is not 255 (they came from off-link). */
const ND_HOP_LIMIT = 255;

/** ICMPv6 types of Neighbor Discovery (RFC 4861 §4.3, §4.4). */
export const NdpType = {
  neighborSolicitation: 135,
  neighborAdvertisement: 136,
} as const;

/** ND option types (RFC 4861 §4.6.1). */
const NdpOption = {
  sourceLinkLayerAddress: 1,
  targetLinkLayerAddress: 2,
} as const;

/** Neighbor Advertisement flags, first byte of the reserved word (RFC 4861 §4.4). */
export const NaFlag = {
  router: 0x80,
  solicited: 0x40,
  override: 0x20,
} as const;

/** The all-nodes multicast address ff02::1, where unsolicited advertisements go (RFC 4861 §7.2.6). */
export const ALL_NODES: IpAddress = { family: 6, value: 0xff02n << 112n | 1n };
const UNSPECIFIED: IpAddress = { family: 6, value: 0n };

export interface NeighborSolicitation {
  /** The IPv6 source: the unspecified address (::) for duplicate address detection. */
  readonly source: IpAddress;
  readonly destination: IpAddress;
  readonly target: IpAddress;
  /** The Source Link-Layer Address option, when present. */
  readonly sourceMac?: Mac;
}

export interface NeighborAdvertisement {
  readonly source: IpAddress;
  readonly destination: IpAddress;
  readonly target: IpAddress;
  /** Bits of NaFlag. */
  readonly flags: number;
  /** The Target Link-Layer Address option, when present. */
  readonly targetMac?: Mac;
}

/** Why a frame was not taken as ND: counted, never thrown. */
export const NdpIgnored = {
  notNdp: 'not-ndp',
  truncated: 'truncated',
  badHopLimit: 'bad-hop-limit',
  badChecksum: 'bad-checksum',
  badOption: 'bad-option',
  multicastTarget: 'multicast-target',
} as const;
export type NdpIgnored = (typeof NdpIgnored)[keyof typeof NdpIgnored];

export type NdpDecoded =
  | { readonly ok: true; readonly frameSource: Mac; readonly kind: 'solicitation'; readonly message: NeighborSolicitation }
  | { readonly ok: true; readonly frameSource: Mac; readonly kind: 'advertisement'; readonly message: NeighborAdvertisement }
  | { readonly ok: false; readonly reason: NdpIgnored };

/** The solicited-node multicast address of `address` (RFC 4291 §2.7.1: ff02::1:ff00:0/104 + its low 24 bits). */
export function solicitedNodeMulticast(address: IpAddress): IpAddress {
  return { family: 6, value: (0xff02n << 112n) | (0x1ffn << 24n) | (address.value & 0xffffffn) };
}

/** The Ethernet multicast MAC of an IPv6 multicast address (RFC 2464 §7: 33:33 + its low 32 bits). */
export function multicastMac(group: IpAddress): Mac {
  const bytes = ipToBytes(group);
  return Uint8Array.of(0x33, 0x33, bytes[12]!, bytes[13]!, bytes[14]!, bytes[15]!);
}

/** The ICMPv6 checksum (RFC 4443 §2.3) over the IPv6 pseudo-header (RFC 8200 §8.1) and `message`. */
export function icmpv6Checksum(source: IpAddress, destination: IpAddress, message: Uint8Array): number {
  let sum = 0;
  const add = (bytes: Uint8Array): void => {
    for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  };
  add(ipToBytes(source));
  add(ipToBytes(destination));
  add(Uint8Array.of(0, 0, message.length >> 8, message.length & 0xff, 0, 0, 0, NEXT_HEADER_ICMPV6));
  add(message);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Reads a frame as an NS or NA (Ethernet, IPv6 without extension headers, ICMPv6), checked as RFC 4861 §7.1 asks. */
export function decodeNdpFrame(frame: Uint8Array): NdpDecoded {
  const ethernet = decodeEthernet(frame);
  if (ethernet === undefined || ethernet.etherType !== EtherType.ipv6) return { ok: false, reason: NdpIgnored.notNdp };
  const packet = frame.subarray(ETHERNET_HEADER_LENGTH);
  if (packet.length < IPV6_HEADER_LENGTH || packet[6] !== NEXT_HEADER_ICMPV6) return { ok: false, reason: NdpIgnored.notNdp };
  const payloadLength = (packet[4]! << 8) | packet[5]!;
  const message = packet.subarray(IPV6_HEADER_LENGTH, IPV6_HEADER_LENGTH + payloadLength);
  const type = message[0];
  if (type !== NdpType.neighborSolicitation && type !== NdpType.neighborAdvertisement) return { ok: false, reason: NdpIgnored.notNdp };
  // An ND message is 24 bytes before its options; a frame cut short of its payload length is truncated.
  if (message.length < 24 || message.length < payloadLength) return { ok: false, reason: NdpIgnored.truncated };
  if (packet[7] !== ND_HOP_LIMIT || message[1] !== 0) return { ok: false, reason: NdpIgnored.badHopLimit };
  const source = ipFromBytes(packet.slice(8, 24));
  const destination = ipFromBytes(packet.slice(24, 40));
  if (icmpv6Checksum(source, destination, message) !== 0) return { ok: false, reason: NdpIgnored.badChecksum };
  const target = ipFromBytes(message.slice(8, 24));
  // RFC 4861 §7.1.1: the target MUST NOT be a multicast address.
  if (target.value >> 120n === 0xffn) return { ok: false, reason: NdpIgnored.multicastTarget };
  const options = readOptions(message.subarray(24));
  if (options === undefined) return { ok: false, reason: NdpIgnored.badOption };
  if (type === NdpType.neighborSolicitation) {
    const sourceMac = options.get(NdpOption.sourceLinkLayerAddress);
    return { ok: true, frameSource: ethernet.source, kind: 'solicitation', message: { source, destination, target, ...(sourceMac === undefined ? {} : { sourceMac }) } };
  }
  const targetMac = options.get(NdpOption.targetLinkLayerAddress);
  return {
    ok: true,
    frameSource: ethernet.source,
    kind: 'advertisement',
    message: { source, destination, target, flags: message[4]!, ...(targetMac === undefined ? {} : { targetMac }) },
  };
}

/** Link-layer address options by type; undefined when an option has length 0 (RFC 4861 §4.6: MUST silently discard). */
function readOptions(bytes: Uint8Array): Map<number, Mac> | undefined {
  const found = new Map<number, Mac>();
  let at = 0;
  while (at + 2 <= bytes.length) {
    const length = bytes[at + 1]! * 8;
    if (length === 0 || at + length > bytes.length) return undefined;
    const type = bytes[at]!;
    if ((type === NdpOption.sourceLinkLayerAddress || type === NdpOption.targetLinkLayerAddress) && length >= 8) {
      found.set(type, bytes.slice(at + 2, at + 8));
    }
    at += length;
  }
  return found;
}

function ipv6Frame(destinationMac: Mac, sourceMac: Mac, source: IpAddress, destination: IpAddress, message: Uint8Array): Uint8Array {
  const checksum = icmpv6Checksum(source, destination, message);
  message[2] = checksum >> 8;
  message[3] = checksum & 0xff;
  const packet = new Uint8Array(IPV6_HEADER_LENGTH + message.length);
  packet[0] = 0x60; // version 6, traffic class and flow label 0
  packet[4] = message.length >> 8;
  packet[5] = message.length & 0xff;
  packet[6] = NEXT_HEADER_ICMPV6;
  packet[7] = ND_HOP_LIMIT;
  packet.set(ipToBytes(source), 8);
  packet.set(ipToBytes(destination), 24);
  packet.set(message, IPV6_HEADER_LENGTH);
  return encodeEthernet({ destination: destinationMac, source: sourceMac, etherType: EtherType.ipv6 }, packet);
}

function requireV6(address: IpAddress): void {
  if (address.family !== 6) throw new L2Error(L2ErrorCode.wrongFamily, 'NDP carries IPv6 addresses only (IPv4 uses ARP)');
}

/** An NA for `vip` at `mac` with a Target Link-Layer Address option, from the VIP. */
function advertisement(vip: IpAddress, mac: Mac, destination: IpAddress, destinationMac: Mac, flags: number): Uint8Array {
  requireV6(vip);
  const message = new Uint8Array(32);
  message[0] = NdpType.neighborAdvertisement;
  message[4] = flags;
  message.set(ipToBytes(vip), 8);
  message[24] = NdpOption.targetLinkLayerAddress;
  message[25] = 1;
  message.set(mac, 26);
  return ipv6Frame(destinationMac, mac, vip, destination, message);
}

/**
 * The answer to a solicitation for `vip` (RFC 4861 §7.2.4): to the soliciting address with S and O
 * set; to all-nodes with S clear when the solicitation came from :: (duplicate address detection).
 */
export function neighborAdvertisementFrame(solicitation: NeighborSolicitation, frameSource: Mac, vip: IpAddress, mac: Mac): Uint8Array {
  if (solicitation.source.value === UNSPECIFIED.value) {
    return advertisement(vip, mac, ALL_NODES, multicastMac(ALL_NODES), NaFlag.override);
  }
  return advertisement(vip, mac, solicitation.source, solicitation.sourceMac ?? frameSource, NaFlag.solicited | NaFlag.override);
}

/** An unsolicited NA announcing `vip`'s new owner (RFC 4861 §7.2.6): to all-nodes, O set so caches take it. */
export function unsolicitedAdvertisementFrame(vip: IpAddress, mac: Mac): Uint8Array {
  return advertisement(vip, mac, ALL_NODES, multicastMac(ALL_NODES), NaFlag.override);
}

/**
 * A probe for `vip` before taking it over: an NS from :: to its solicited-node group with no
 * source link-layer option (RFC 4862 §5.4.2 duplicate address detection), so no cache learns from it.
 */
export function neighborProbeFrame(vip: IpAddress, mac: Mac): Uint8Array {
  requireV6(vip);
  const message = new Uint8Array(24);
  message[0] = NdpType.neighborSolicitation;
  message.set(ipToBytes(vip), 8);
  const group = solicitedNodeMulticast(vip);
  return ipv6Frame(multicastMac(group), mac, UNSPECIFIED, group, message);
}
