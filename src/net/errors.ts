import { VipgateError } from '../errors.ts';

/** Stable error codes for address and prefix parsing. Callers match on `code`. */
export const NetErrorCode = {
  badAddress: 'NET_BAD_ADDRESS',
  badPrefix: 'NET_BAD_PREFIX',
  hostBitsSet: 'NET_HOST_BITS_SET',
  familyMismatch: 'NET_FAMILY_MISMATCH',
  badRange: 'NET_BAD_RANGE',
} as const;
export type NetErrorCode = (typeof NetErrorCode)[keyof typeof NetErrorCode];

export class NetError extends VipgateError<NetErrorCode> {
  override readonly name = 'NetError';
  constructor(
    code: NetErrorCode,
    message: string,
    readonly input: string,
  ) {
    super(code, message);
  }
}
