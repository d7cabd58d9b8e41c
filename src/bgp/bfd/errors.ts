/**
 * Errors of the BFD module. `BfdPacketError`: a received packet breaks RFC 5880 §6.8.6's
 * reception rules and is discarded (its `code` says which rule). `BfdError`: our own caller
 * did something wrong (bad timer values, socket failure).
 */
import { VipgateError } from '../../errors.ts';

/** RFC 5880 §6.8.6 discard reasons, one per rule, plus the truncation checks of §4.1. */
export const BfdPacketErrorCode = {
  truncated: 'BFD_PACKET_TRUNCATED',
  badVersion: 'BFD_BAD_VERSION',
  badLength: 'BFD_BAD_LENGTH',
  zeroDetectMult: 'BFD_ZERO_DETECT_MULT',
  multipoint: 'BFD_MULTIPOINT',
  zeroMyDiscriminator: 'BFD_ZERO_MY_DISCRIMINATOR',
  zeroYourDiscriminator: 'BFD_ZERO_YOUR_DISCRIMINATOR',
  authenticationUnsupported: 'BFD_AUTHENTICATION_UNSUPPORTED',
} as const;
export type BfdPacketErrorCode = (typeof BfdPacketErrorCode)[keyof typeof BfdPacketErrorCode];

export class BfdPacketError extends VipgateError<BfdPacketErrorCode> {
  override readonly name = 'BfdPacketError';
}

export const BfdErrorCode = {
  badTimers: 'BFD_BAD_TIMERS',
  badAddress: 'BFD_BAD_ADDRESS',
  socket: 'BFD_SOCKET',
} as const;
export type BfdErrorCode = (typeof BfdErrorCode)[keyof typeof BfdErrorCode];

export class BfdError extends VipgateError<BfdErrorCode> {
  override readonly name = 'BfdError';
}
