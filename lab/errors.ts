import { VipgateError } from '../src/errors.ts';

/** Stable error codes for the network-namespace lab. Callers match on `code`. */
export const LabErrorCode = {
  /** The topology description is inconsistent (unknown host, name too long, bad address…). */
  badTopology: 'LAB_BAD_TOPOLOGY',
  /** A lab prefix that is not 2–12 lowercase letters/digits, or one already in use. */
  badPrefix: 'LAB_BAD_PREFIX',
  /** A command inside a lab namespace failed or ran out of time. */
  commandFailed: 'LAB_COMMAND_FAILED',
  /** A lab process did not become ready in time. */
  notReady: 'LAB_NOT_READY',
  /** The lab was already torn down. */
  down: 'LAB_DOWN',
} as const;
export type LabErrorCode = (typeof LabErrorCode)[keyof typeof LabErrorCode];

export class LabError extends VipgateError<LabErrorCode> {
  override readonly name = 'LabError';
}
