import { VipgateError } from '../errors.ts';

/** Stable codes for problems the agent reports about Services and its own effects. */
export const AgentErrorCode = {
  /** An external IP that no pool allows for the Service's namespace (CVE-2020-8554 policy). */
  externalIPRejected: 'EXTERNAL_IP_REJECTED',
  /** IPAM could not give the Service an address (exhausted, requested address taken, …). */
  allocationFailed: 'ALLOCATION_FAILED',
  /** Two Services claim the same VIP:port/proto; the second is not served on it. */
  frontendClash: 'FRONTEND_CLASH',
  /** The dataplane refused the transaction; the kernel keeps its previous state. */
  dataplaneFailed: 'DATAPLANE_FAILED',
  /** The VIP interface could not be set up. */
  hostFailed: 'HOST_FAILED',
  /** The config file changed to something invalid; the last good one keeps serving. */
  configInvalid: 'CONFIG_INVALID',
  /** The assignment state file could not be read or written. */
  stateFile: 'STATE_FILE',
  /** The drain request file could not be read or written (`vipgate drain` is then refused). */
  drainFile: 'DRAIN_FILE',
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

export class AgentError extends VipgateError<AgentErrorCode> {
  override readonly name = 'AgentError';
}
