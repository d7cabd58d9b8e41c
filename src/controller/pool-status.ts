import type { PoolStats } from '../ipam/index.ts';
import type { KubeCondition, KubeVipPool } from '../kube/index.ts';
import { parseRange, type IpRange } from '../net/index.ts';
import { replacedInPlace } from './assign.ts';
import { ConditionType } from './errors.ts';

/** One other pool this one shares addresses with, and this pool's entries that overlap it. */
export interface PoolConflict {
  readonly pool: string;
  readonly addresses: readonly string[];
}

function entriesOf(resource: KubeVipPool): { text: string; range: IpRange }[] {
  const raw = resource.spec?.['addresses'];
  const out: { text: string; range: IpRange }[] = [];
  for (const text of Array.isArray(raw) ? raw : []) {
    if (typeof text !== 'string') continue;
    try {
      out.push({ text, range: parseRange(text) });
    } catch {
      // An unparsable entry is the pool's own problem (reported in its condition), not a conflict.
    }
  }
  return out;
}

/**
 * pool → the pools it overlaps and which of its entries do. Both sides of a conflict see it,
 * whichever of the two IPAM kept: the user must fix one of them, and either may be the mistake.
 */
export function poolConflicts(resources: readonly KubeVipPool[]): Map<string, PoolConflict[]> {
  const pools = resources.map((r) => ({ name: r.metadata?.name ?? '', entries: entriesOf(r) })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out = new Map<string, PoolConflict[]>();
  const add = (pool: string, other: string, entries: Set<string>): void => {
    out.set(pool, [...(out.get(pool) ?? []), { pool: other, addresses: [...entries] }]);
  };
  for (const [i, a] of pools.entries()) {
    for (const b of pools.slice(i + 1)) {
      const mineA = new Set<string>();
      const mineB = new Set<string>();
      for (const ea of a.entries) {
        for (const eb of b.entries) {
          if (ea.range.family === eb.range.family && ea.range.first <= eb.range.last && eb.range.first <= ea.range.last) {
            mineA.add(ea.text);
            mineB.add(eb.text);
          }
        }
      }
      if (mineA.size === 0) continue;
      add(a.name, b.name, mineA);
      add(b.name, a.name, mineB);
    }
  }
  return out;
}

function usage(stats: readonly PoolStats[], family: 4 | 6): { total: string; used: string; free: string } | null {
  const row = stats.find((s) => s.family === family);
  return row === undefined ? null : { total: String(row.total), used: String(row.used), free: String(row.free) };
}

/**
 * The status a VIPPool should have, as a merge-patch body, or undefined when it has it already:
 * addresses total/used/free per family (strings: a /64 outgrows int64), conflicts with other
 * pools, and a condition saying whether IPAM hands addresses out from it and if not, why.
 * `problem` is IPAM's reason for leaving the pool out; `stats` are empty then.
 */
export function desiredPoolStatus(resource: KubeVipPool, stats: readonly PoolStats[], conflicts: readonly PoolConflict[], problem: string | undefined, now: Date): Record<string, unknown> | undefined {
  const current = resource.status ?? {};
  const generation = resource.metadata?.generation;
  const currentConditions = (Array.isArray(current['conditions']) ? current['conditions'] : []) as KubeCondition[];
  const [status, reason, message] =
    problem === undefined
      ? (['True', 'Accepted', conflicts.length === 0 ? 'addresses are handed out from this pool' : 'addresses are handed out from this pool; it overlaps others, which were left out'] as const)
      : (['False', conflicts.length > 0 ? 'Conflict' : 'Invalid', problem] as const);
  const old = currentConditions.find((c) => c.type === ConditionType.poolUsable);
  // lastTransitionTime moves only when the status flips, as metav1.Condition requires.
  const at = old !== undefined && old.status === status ? new Date(old.lastTransitionTime).toISOString() : now.toISOString();
  const conditions = replacedInPlace(currentConditions, new Set([ConditionType.poolUsable]), [
    { type: ConditionType.poolUsable, status, reason, message, lastTransitionTime: at, ...(generation === undefined ? {} : { observedGeneration: generation }) },
  ]);
  const desired = {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    ipv4: usage(stats, 4),
    ipv6: usage(stats, 6),
    conflicts: conflicts.map((c) => ({ pool: c.pool, addresses: [...c.addresses] })),
    conditions,
  };
  const comparable = (s: Readonly<Record<string, unknown>>): string =>
    JSON.stringify({
      observedGeneration: s['observedGeneration'] ?? null,
      ipv4: s['ipv4'] ?? null,
      ipv6: s['ipv6'] ?? null,
      conflicts: s['conflicts'] ?? [],
      conditions: ((s['conditions'] ?? []) as KubeCondition[]).map((c) => ({ ...c, lastTransitionTime: new Date(c.lastTransitionTime).toISOString() })),
    });
  return comparable(desired) === comparable(current) ? undefined : desired;
}
