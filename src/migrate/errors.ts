import { VipgateError } from '../errors.ts';

/** Stable error codes for `vipgate migrate`. The message names the input and what was expected. */
export const MigrateErrorCode = {
  /** The input is not YAML/JSON Services (a Service, a List of them, or several documents). */
  badInput: 'MIGRATE_BAD_INPUT',
} as const;
export type MigrateErrorCode = (typeof MigrateErrorCode)[keyof typeof MigrateErrorCode];

export class MigrateError extends VipgateError<MigrateErrorCode> {
  override readonly name = 'MigrateError';
}

/** Why a Service with externalIPs is left alone; the plan says so, it does not throw. */
export const SkipReason = {
  /** Already type LoadBalancer: its externalIPs are extra addresses beside its own. */
  alreadyLoadBalancer: 'already-load-balancer',
  /** ExternalName Services have no cluster IP and are never served by vipgate. */
  externalName: 'external-name',
  /** clusterIP: None; a LoadBalancer Service can't be headless. */
  headless: 'headless',
  /** An externalIPs entry is not an IP address. */
  badAddress: 'bad-address',
  /** Two addresses of one family: a LoadBalancer asks for at most one per family. */
  twoOfOneFamily: 'two-of-one-family',
  /** The Service's primary IP family differs from its only external address's family. */
  familyMismatch: 'family-mismatch',
  /** The vipgate.io/ips annotation already asks for other addresses. */
  annotationConflict: 'annotation-conflict',
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];
