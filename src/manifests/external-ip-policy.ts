import { rangeToCidrs } from '../config/defaults.ts';
import type { Pool } from '../model/index.ts';
import { parseRange } from '../net/index.ts';
import { commonLabels } from './labels.ts';
import { EXTERNAL_IP_POLICY_NAME, GROUP_VERSION, Kinds } from './names.ts';

export interface ExternalIPPolicyPool {
  readonly name: string;
  readonly cidrs: readonly string[];
  readonly namespaces?: readonly string[];
}

export interface ExternalIPPolicyObject {
  readonly apiVersion: typeof GROUP_VERSION;
  readonly kind: 'ExternalIPPolicy';
  readonly metadata: { readonly name: string; readonly labels: Record<string, string> };
  readonly spec: { readonly pools: readonly ExternalIPPolicyPool[] };
}

/**
 * The admission policy's parameters from the pools: every pool that allows externalIPs, its
 * entries as CIDRs (a range becomes the fewest CIDRs covering exactly it) and its namespaces.
 * Pools are sorted by name and CIDRs kept in written order, so equal pools give an equal
 * object and the controller writes only on a real change. Throws NetError on an unparsable
 * entry: the controller validates pools (ipam) before it gets here.
 */
export function externalIPPolicyFromPools(pools: readonly Pool[]): ExternalIPPolicyObject {
  const allowing = pools.filter((p) => p.allowExternalIPs).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    apiVersion: GROUP_VERSION,
    kind: Kinds.ExternalIPPolicy.kind,
    metadata: { name: EXTERNAL_IP_POLICY_NAME, labels: commonLabels('controller') },
    spec: {
      pools: allowing.map((p) => ({
        name: p.name,
        cidrs: [...new Set(p.addresses.flatMap((a) => rangeToCidrs(parseRange(a))))],
        ...(p.namespaces.length > 0 ? { namespaces: [...p.namespaces] } : {}),
      })),
    },
  };
}
