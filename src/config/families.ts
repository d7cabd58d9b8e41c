import type { Family } from '../net/index.ts';
import type { IpFamilyName, IpFamilyPolicy } from './types.ts';

export function familyName(family: Family): IpFamilyName {
  return family === 4 ? 'IPv4' : 'IPv6';
}

export function familyNumber(name: IpFamilyName): Family {
  return name === 'IPv4' ? 4 : 6;
}

/**
 * The policy when none is written: two families listed means the user wants both, so
 * RequireDualStack; otherwise SingleStack, as in Kubernetes.
 */
export function policyOf(policy: string | undefined, families: readonly string[] | undefined): IpFamilyPolicy {
  if (policy === 'SingleStack' || policy === 'PreferDualStack' || policy === 'RequireDualStack') return policy;
  return families?.length === 2 ? 'RequireDualStack' : 'SingleStack';
}

/** The families when none are written: IPv4 for a single stack, both for dual-stack policies. */
export function familiesOf(policy: IpFamilyPolicy, families: readonly string[] | undefined): IpFamilyName[] {
  const given = (families ?? []).filter((f): f is IpFamilyName => f === 'IPv4' || f === 'IPv6');
  if (given.length > 0) return given;
  return policy === 'SingleStack' ? ['IPv4'] : ['IPv4', 'IPv6'];
}
