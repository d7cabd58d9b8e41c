import { VipgateError } from '../errors.ts';

/** Stable error codes of L2 mode. Callers match on `code`. */
export const L2ErrorCode = {
  /** A MAC address that is not six hex octets. */
  badMac: 'L2_BAD_MAC',
  /** An address of the wrong family for the message (an IPv6 VIP in ARP, an IPv4 one in NDP). */
  wrongFamily: 'L2_WRONG_FAMILY',
  /** A packet socket call failed (no such interface, no CAP_NET_RAW, …): the message has the errno's words. */
  socket: 'L2_SOCKET',
  /** Ownership was asked of an empty or duplicated node list. */
  badNodes: 'L2_BAD_NODES',
} as const;
export type L2ErrorCode = (typeof L2ErrorCode)[keyof typeof L2ErrorCode];

export class L2Error extends VipgateError<L2ErrorCode> {
  override readonly name = 'L2Error';
}
