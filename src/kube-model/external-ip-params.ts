import type { Pool } from '../model/index.ts';
import { parseRange, rangeToCidrs } from '../net/index.ts';
import { ALL_NAMESPACES_KEY } from './names.ts';

/**
 * The admission params ConfigMap's data from the pools (format in manifests/admission.ts): for each
 * namespace a pool names, and `.all-namespaces` for pools open to all, the pools allowing
 * externalIPs as `name=cidr,cidr`, sorted by pool name; a range becomes the fewest CIDRs
 * covering exactly it. Equal pools give equal data, so the controller writes only on a real
 * change. Throws NetError on an unparsable entry: the controller validates pools (ipam) before.
 */
export function externalIPParamsData(pools: readonly Pool[]): Record<string, string> {
  const allowing = pools.filter((p) => p.allowExternalIPs).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const byKey = new Map<string, string[]>();
  for (const p of allowing) {
    const cidrs = [...new Set(p.addresses.flatMap((a) => rangeToCidrs(parseRange(a))))];
    const entry = `${p.name}=${cidrs.join(',')}`;
    for (const key of p.namespaces.length > 0 ? p.namespaces : [ALL_NAMESPACES_KEY]) byKey.set(key, [...(byKey.get(key) ?? []), entry]);
  }
  return Object.fromEntries([...byKey.keys()].sort().map((k) => [k, byKey.get(k)!.join(' ')]));
}
