import { VipgateError } from '../../errors.ts';

/** Stable error codes of the XDP dataplane. Callers match on `code`. */
export const XdpErrorCode = {
  /** A Maglev input is unusable (no backends, bad weight, table size not prime or too small). */
  badMaglevInput: 'XDP_BAD_MAGLEV_INPUT',
  /** A frontend in the table cannot be programmed (address family, source range...). */
  badFrontend: 'XDP_BAD_FRONTEND',
  /** The BPF object could not be compiled (clang missing or the C refused). */
  buildFailed: 'XDP_BUILD_FAILED',
  /** libbpf.so.1 could not be loaded through the FFI. */
  libbpfUnavailable: 'XDP_LIBBPF_UNAVAILABLE',
  /** A libbpf or bpf() call failed; the error names the call and errno. */
  kernelCallFailed: 'XDP_KERNEL_CALL_FAILED',
  /** The program could not be attached to an interface in any allowed mode. */
  attachFailed: 'XDP_ATTACH_FAILED',
  /** More services or backends than the maps were sized for. */
  capacityExceeded: 'XDP_CAPACITY_EXCEEDED',
  /** Options given to xdpDataplane are invalid. */
  badOptions: 'XDP_BAD_OPTIONS',
  /** The dataplane was used after close(). */
  closed: 'XDP_CLOSED',
} as const;
export type XdpErrorCode = (typeof XdpErrorCode)[keyof typeof XdpErrorCode];

export class XdpError extends VipgateError<XdpErrorCode> {
  override readonly name = 'XdpError';
  constructor(
    code: XdpErrorCode,
    message: string,
    options?: ErrorOptions,
    /** The kernel's errno, for kernelCallFailed. */
    readonly errno?: number,
  ) {
    super(code, message, options);
  }
}
