// ARP for IPv4 over Ethernet (RFC 826), and the gratuitous form of RFC 5227 §3 that announces a
// VIP's new owner.
import { ipFromBytes, ipToBytes, type IpAddress } from '../../net/index.ts';
import { L2Error, L2ErrorCode } from '../errors.ts';
import { BROADCAST_MAC, decodeEthernet, encodeEthernet, ETHERNET_HEADER_LENGTH, EtherType, ZERO_MAC, type Mac } from './ethernet.ts';

/** ar$op values (RFC 826; IANA "ARP operation codes"). */
export const ArpOperation = {
  request: 1,
  reply: 2,
} as const;
export type ArpOperation = (typeof ArpOperation)[keyof typeof ArpOperation];

/** Hardware type Ethernet (RFC 826 ar$hrd). */
const HTYPE_ETHERNET = 1;
/** The ARP body for Ethernet + IPv4: 8 bytes of header, then two (MAC, IPv4) pairs. */
export const ARP_LENGTH = 28;

export interface ArpPacket {
  readonly operation: ArpOperation;
  readonly senderMac: Mac;
  readonly senderIp: IpAddress;
  readonly targetMac: Mac;
  readonly targetIp: IpAddress;
}

/** Why a frame was not taken as ARP: counted, never thrown (anything may arrive on a segment). */
export const ArpIgnored = {
  notArp: 'not-arp',
  truncated: 'truncated',
  notEthernetIpv4: 'not-ethernet-ipv4',
  unknownOperation: 'unknown-operation',
} as const;
export type ArpIgnored = (typeof ArpIgnored)[keyof typeof ArpIgnored];

export type ArpDecoded = { readonly ok: true; readonly source: Mac; readonly packet: ArpPacket } | { readonly ok: false; readonly reason: ArpIgnored };

/** Reads an ARP frame as received on an AF_PACKET socket (Ethernet header included; trailing padding allowed). */
export function decodeArpFrame(frame: Uint8Array): ArpDecoded {
  const ethernet = decodeEthernet(frame);
  if (ethernet === undefined || ethernet.etherType !== EtherType.arp) return { ok: false, reason: ArpIgnored.notArp };
  const body = frame.subarray(ETHERNET_HEADER_LENGTH);
  if (body.length < ARP_LENGTH) return { ok: false, reason: ArpIgnored.truncated };
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  // RFC 826: a receiver checks ar$hrd and ar$pro (and their lengths) before it looks further.
  if (view.getUint16(0) !== HTYPE_ETHERNET || view.getUint16(2) !== EtherType.ipv4 || body[4] !== 6 || body[5] !== 4) {
    return { ok: false, reason: ArpIgnored.notEthernetIpv4 };
  }
  const operation = view.getUint16(6);
  if (operation !== ArpOperation.request && operation !== ArpOperation.reply) return { ok: false, reason: ArpIgnored.unknownOperation };
  return {
    ok: true,
    source: ethernet.source,
    packet: {
      operation,
      senderMac: body.slice(8, 14),
      senderIp: ipFromBytes(body.slice(14, 18)),
      targetMac: body.slice(18, 24),
      targetIp: ipFromBytes(body.slice(24, 28)),
    },
  };
}

/** The ARP body (28 bytes) of a packet. */
export function encodeArp(packet: ArpPacket): Uint8Array {
  for (const ip of [packet.senderIp, packet.targetIp]) {
    if (ip.family !== 4) throw new L2Error(L2ErrorCode.wrongFamily, 'ARP carries IPv4 addresses only (IPv6 uses NDP)');
  }
  const body = new Uint8Array(ARP_LENGTH);
  const view = new DataView(body.buffer);
  view.setUint16(0, HTYPE_ETHERNET);
  view.setUint16(2, EtherType.ipv4);
  body[4] = 6;
  body[5] = 4;
  view.setUint16(6, packet.operation);
  body.set(packet.senderMac, 8);
  body.set(ipToBytes(packet.senderIp), 14);
  body.set(packet.targetMac, 18);
  body.set(ipToBytes(packet.targetIp), 24);
  return body;
}

/** The unicast reply to `request` saying `vip` is at `mac` (RFC 826: swap the pairs, fill in ours). */
export function arpReplyFrame(request: ArpPacket, requesterMac: Mac, mac: Mac): Uint8Array {
  const reply: ArpPacket = {
    operation: ArpOperation.reply,
    senderMac: mac,
    senderIp: request.targetIp,
    targetMac: request.senderMac,
    targetIp: request.senderIp,
  };
  return encodeEthernet({ destination: requesterMac, source: mac, etherType: EtherType.arp }, encodeArp(reply));
}

/**
 * A gratuitous ARP announcing that `vip` is at `mac`: the broadcast request form of RFC 5227 §3
 * (sender and target IP both the VIP, target MAC zero), which Linux lets override an existing
 * neighbour entry whatever its locktime.
 */
export function gratuitousArpFrame(vip: IpAddress, mac: Mac): Uint8Array {
  const announcement: ArpPacket = { operation: ArpOperation.request, senderMac: mac, senderIp: vip, targetMac: ZERO_MAC, targetIp: vip };
  return encodeEthernet({ destination: BROADCAST_MAC, source: mac, etherType: EtherType.arp }, encodeArp(announcement));
}

/**
 * An ARP probe for `vip` (RFC 5227 §2.1.1: sender IP 0.0.0.0, so nobody's cache learns from it):
 * sent before taking a VIP over; any answer from another MAC means somebody still holds it.
 */
export function arpProbeFrame(vip: IpAddress, mac: Mac): Uint8Array {
  const probe: ArpPacket = { operation: ArpOperation.request, senderMac: mac, senderIp: { family: 4, value: 0n }, targetMac: ZERO_MAC, targetIp: vip };
  return encodeEthernet({ destination: BROADCAST_MAC, source: mac, etherType: EtherType.arp }, encodeArp(probe));
}
