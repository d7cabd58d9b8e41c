// Ethernet II framing (IEEE 802.3 with an EtherType), the only framing L2 mode reads and writes.
import { L2Error, L2ErrorCode } from '../errors.ts';

/** A 48-bit MAC address, six bytes in wire order. */
export type Mac = Uint8Array;

/** EtherTypes L2 mode handles (IEEE registry). */
export const EtherType = {
  ipv4: 0x0800,
  arp: 0x0806,
  ipv6: 0x86dd,
} as const;
export type EtherType = (typeof EtherType)[keyof typeof EtherType];

export const ETHERNET_HEADER_LENGTH = 14;
export const BROADCAST_MAC: Mac = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
export const ZERO_MAC: Mac = new Uint8Array(6);

const MAC_TEXT = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function parseMac(text: string): Mac {
  if (!MAC_TEXT.test(text)) {
    throw new L2Error(L2ErrorCode.badMac, `"${text}" is not a MAC address (six hex octets separated by ':', e.g. 02:00:0a:0a:0c:02)`);
  }
  return Uint8Array.from(text.split(':'), (octet) => Number.parseInt(octet, 16));
}

export function formatMac(mac: Mac): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function sameMac(a: Mac, b: Mac): boolean {
  return a.length === 6 && b.length === 6 && a.every((byte, i) => byte === b[i]);
}

export interface EthernetHeader {
  readonly destination: Mac;
  readonly source: Mac;
  readonly etherType: number;
}

/** The header of a frame, or undefined when the frame is shorter than one. */
export function decodeEthernet(frame: Uint8Array): EthernetHeader | undefined {
  if (frame.length < ETHERNET_HEADER_LENGTH) return undefined;
  return {
    destination: frame.slice(0, 6),
    source: frame.slice(6, 12),
    etherType: (frame[12]! << 8) | frame[13]!,
  };
}

/** A frame: the header, then the payload. Padding to 60 bytes is the NIC's job (and veth's absence of it is harmless). */
export function encodeEthernet(header: EthernetHeader, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(ETHERNET_HEADER_LENGTH + payload.length);
  frame.set(header.destination, 0);
  frame.set(header.source, 6);
  frame[12] = header.etherType >> 8;
  frame[13] = header.etherType & 0xff;
  frame.set(payload, ETHERNET_HEADER_LENGTH);
  return frame;
}
