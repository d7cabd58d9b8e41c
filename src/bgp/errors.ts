/**
 * Errors of the BGP speaker. Two kinds:
 * - `BgpMessageError`: something a peer sent (or we are about to send) breaks the protocol. It
 *   carries the NOTIFICATION code/subcode/data it maps to (RFC 4271 §6) and the RFC 7606
 *   treatment, so the session can act on it without a second lookup table.
 * - `BgpError`: our own caller did something wrong (bad config, bad advertisement). Stable `code`.
 */
import { VipgateError } from '../errors.ts';

/** RFC 7606 §2: how a malformed UPDATE (or any other protocol error) is handled. */
export const ErrorTreatment = {
  /** Send a NOTIFICATION and close the session (the RFC 4271 default). */
  sessionReset: 'session-reset',
  /** Keep the session; the UPDATE's NLRIs are handled as withdrawn (RFC 7606 §2). */
  treatAsWithdraw: 'treat-as-withdraw',
  /** Keep the session and the routes; only the broken attribute is ignored (RFC 7606 §2). */
  attributeDiscard: 'attribute-discard',
} as const;
export type ErrorTreatment = (typeof ErrorTreatment)[keyof typeof ErrorTreatment];

/** Its `code` is the NOTIFICATION error code (RFC 4271 §4.5), a number fixed by the RFC. */
export class BgpMessageError extends VipgateError<number> {
  override readonly name = 'BgpMessageError';
  constructor(
    /** NOTIFICATION error code (RFC 4271 §4.5). */
    code: number,
    /** NOTIFICATION error subcode; 0 when the RFC names none. */
    readonly subcode: number,
    /** NOTIFICATION data field, as the RFC prescribes for this error (often the bad bytes). */
    readonly data: Uint8Array,
    readonly treatment: ErrorTreatment,
    message: string,
  ) {
    super(code, message);
  }
}

/** Stable codes for errors made by the speaker's caller (not by a peer). */
export const BgpErrorCode = {
  badAdvertisement: 'BGP_BAD_ADVERTISEMENT',
  badPeerConfig: 'BGP_BAD_PEER_CONFIG',
  duplicatePeer: 'BGP_DUPLICATE_PEER',
  unknownPeer: 'BGP_UNKNOWN_PEER',
  badSpeakerConfig: 'BGP_BAD_SPEAKER_CONFIG',
  /** A value given to an encoder does not fit its wire field (a bug in the caller). */
  encodeOutOfRange: 'BGP_ENCODE_OUT_OF_RANGE',
  /** The encoded message would exceed 4096 bytes (RFC 4271 §4.1). */
  messageTooLong: 'BGP_MESSAGE_TOO_LONG',
  stopped: 'BGP_STOPPED',
  tcpMd5: 'BGP_TCP_MD5',
  /** A socket option (IP_TTL) could not be set. */
  socketOption: 'BGP_SOCKET_OPTION',
} as const;
export type BgpErrorCode = (typeof BgpErrorCode)[keyof typeof BgpErrorCode];

export class BgpError extends VipgateError<BgpErrorCode> {
  override readonly name = 'BgpError';
}
