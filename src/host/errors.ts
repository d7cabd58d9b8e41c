import { VipgateError } from '../errors.ts';

/** Stable error codes for the VIP interface on the LB node. Callers match on `code`. */
export const HostErrorCode = {
  /** The spec itself is wrong (interface name, an address or a route). */
  badSpec: 'HOST_BAD_SPEC',
  /** A link with the VIP interface's name exists, is not vipgate's and is not one vipgate may adopt. */
  linkNotOurs: 'HOST_LINK_NOT_OURS',
  /** Someone else's route already holds a prefix the spec wants on the VIP interface. */
  routeConflict: 'HOST_ROUTE_CONFLICT',
  /** An `ip`/`sysctl` command failed for a reason not covered above. */
  commandFailed: 'HOST_COMMAND_FAILED',
  /** `ip -j` printed something that is not the JSON this module understands. */
  badKernelReply: 'HOST_BAD_KERNEL_REPLY',
} as const;
export type HostErrorCode = (typeof HostErrorCode)[keyof typeof HostErrorCode];

export class HostError extends VipgateError<HostErrorCode> {
  override readonly name = 'HostError';
}

/** A command that exited non-zero (or could not start, or ran out of time). */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly argv: readonly string[],
    readonly stderr: string,
    readonly exitCode: number | null,
    options?: { cause?: unknown },
  ) {
    super(`${argv.join(' ')} failed (exit ${exitCode ?? 'none'}): ${stderr.trim() || 'no output on stderr'}`, options);
  }
}
