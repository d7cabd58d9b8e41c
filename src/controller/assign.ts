import { Allocator, allocateAll, IpamErrorCode, type AllocationRequest } from '../ipam/index.ts';
import type { Pool } from '../model/index.ts';
import { type KubeCondition, type KubeIngress, type KubeService } from '../kube/index.ts';
import { allocationRequest, ingressAddresses, isOurLoadBalancer, keyOf, type ClassPolicy } from '../kube-model/index.ts';
import { ConditionType, FailureReason } from './errors.ts';

/**
 * Pools as the controller allocates from them: external IPs that Services claim (and that no
 * load balancer holds yet) are reserved, so automatic allocation never hands one out.
 */
function withClaimedExternalIPs(pools: readonly Pool[], services: readonly KubeService[], held: ReadonlySet<string>): Pool[] {
  const claimed = [...new Set(services.flatMap((s) => s.spec?.externalIPs ?? []))].filter((a) => !held.has(a)).sort();
  if (claimed.length === 0) return [...pools];
  return pools.map((p) => ({ ...p, reserved: [...p.reserved, ...claimed] }));
}

/** The sorted set of every claimed external IP: when it changes, the allocator is rebuilt. */
export function claimedExternalIPs(services: Iterable<KubeService>): string {
  const all = new Set<string>();
  for (const s of services) for (const a of s.spec?.externalIPs ?? []) all.add(a);
  return [...all].sort().join(',');
}

/**
 * The allocator a (re)started controller begins with: every address in the Services' status
 * (or in `previous`, the allocator being replaced) that is still valid is kept, before anything
 * new is assigned; new addresses are planned in key order. An address in status that another
 * Service holds first (by key) is not kept: that Service is refused with an Event, never given
 * a duplicate.
 */
export function rebuildAllocator(pools: readonly Pool[], services: readonly KubeService[], policy: ClassPolicy, previous?: ReadonlyMap<string, readonly string[]>): Allocator {
  const ours = services.filter((s) => isOurLoadBalancer(s, policy));
  const before = previous ?? new Map(ours.map((s) => [keyOf(s), ingressAddresses(s)]));
  const effective = withClaimedExternalIPs(pools, services, new Set([...before.values()].flat()));
  // Only what was held is restored here; Services that had nothing are allocated by their own
  // reconcile, so their outcome (and Event) comes from one place. So only holders are planned:
  // allocateAll restores every previous address before it allocates anything, so what it keeps
  // for a holder does not depend on the others (on a first start, 10,000 plans thrown away).
  const requests = new Map<string, AllocationRequest>();
  for (const s of ours) {
    const key = keyOf(s);
    if ((before.get(key) ?? []).length > 0) requests.set(key, allocationRequest(s));
  }
  const results = allocateAll(effective, [...requests.values()], before);
  const allocator = new Allocator(effective);
  for (const [key, result] of results) {
    const request = requests.get(key);
    const had = before.get(key) ?? [];
    if (request === undefined || !result.ok || had.length === 0) continue;
    const kept = result.addresses.filter((a) => had.includes(a));
    if (kept.length > 0) allocator.restore(request, kept);
  }
  return allocator;
}

export interface ExternalIPRefusal {
  readonly address: string;
  readonly message: string;
}

/** What the controller concluded for one Service. */
export interface Decision {
  readonly key: string;
  /** A LoadBalancer of our class: it gets VIPs and the VIPAllocated condition. */
  readonly managed: boolean;
  readonly addresses: readonly string[];
  readonly failure?: { readonly reason: string; readonly message: string };
  readonly refusedExternalIPs: readonly ExternalIPRefusal[];
}

/**
 * Assigns (or keeps) the Service's VIPs and checks its external IPs. Mutates the allocator's
 * holdings only: deterministic for a given allocator state and Service. `checker` is an
 * allocator over the pools as configured (see rebuildAllocator's reservations);
 * `firstHolderOf(address)` names another Service that claims the address on one of this
 * Service's ports ahead of it (model byClaimOrder), if any.
 */
export function decide(allocator: Allocator, svc: KubeService, policy: ClassPolicy, checker?: Allocator, firstHolderOf?: (address: string) => string | undefined): Decision {
  const key = keyOf(svc);
  const refusedExternalIPs: ExternalIPRefusal[] = [];
  const managed = isOurLoadBalancer(svc, policy);
  let addresses: readonly string[] = [];
  let failure: Decision['failure'];
  if (managed) {
    const request = allocationRequest(svc);
    let result = allocator.allocate(request);
    // PreferDualStack asks for both families but settles for the primary one.
    if (!result.ok && result.error.code === IpamErrorCode.familyUnavailable && svc.spec?.ipFamilyPolicy === 'PreferDualStack' && request.families.length > 1) {
      result = allocator.allocate({ ...request, families: request.families.slice(0, 1), requested: request.requested.slice(0, 1) });
    }
    if (result.ok) addresses = result.addresses;
    else failure = { reason: FailureReason[result.error.code], message: result.error.message };
  } else {
    allocator.release(key);
  }
  for (const address of svc.spec?.externalIPs ?? []) {
    let verdict = allocator.externalIPAllowed(svc.metadata?.namespace ?? '', address, key);
    // The allocator reserves claimed external IPs (so none is auto-assigned); whether the claim
    // itself is allowed is the pools' policy, asked of an allocator without those reservations.
    // No load balancer can hold a reserved address, so the holder check has nothing to add.
    if (!verdict.ok && verdict.error.code === IpamErrorCode.reserved && checker !== undefined) {
      verdict = checker.externalIPAllowed(svc.metadata?.namespace ?? '', address, key);
    }
    if (!verdict.ok) {
      refusedExternalIPs.push({ address, message: verdict.error.message });
      continue;
    }
    // Another Service claims it on a port of ours and was there first: it keeps the address.
    const holder = firstHolderOf?.(address);
    if (holder !== undefined) {
      refusedExternalIPs.push({ address, message: `service ${key}: external IP ${address} is held by ${holder}, which claimed it first on the same port; it stays there` });
    }
  }
  return { key, managed, addresses, ...(failure === undefined ? {} : { failure }), refusedExternalIPs };
}

/** A condition whose lastTransitionTime is kept unless its status flips. */
export function condition(current: readonly KubeCondition[], type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string, now: Date, generation: number | undefined): KubeCondition {
  const old = current.find((c) => c.type === type);
  // lastTransitionTime moves only when the status flips, as metav1.Condition requires.
  const at = old !== undefined && old.status === status ? old.lastTransitionTime : now.toISOString();
  return { type, status, reason, message, lastTransitionTime: typeof at === 'string' ? at : at.toISOString(), ...(generation === undefined ? {} : { observedGeneration: generation }) };
}

/** The types this writer owns; Served and Announced belong to service-conditions.ts and are kept as they are. */
const OUR_TYPES: ReadonlySet<string> = new Set<string>([ConditionType.vipAllocated, ConditionType.externalIPsAllowed]);

function sameIngress(current: readonly KubeIngress[], wanted: readonly { ip: string; ipMode: string }[]): boolean {
  return current.length === wanted.length && current.every((c, i) => c.ip === wanted[i]!.ip && c.ipMode === wanted[i]!.ipMode);
}

const instant = (t: Date | string): number => (typeof t === 'string' ? Date.parse(t) : t.getTime());

/**
 * Field by field, the times as instants (the API gives strings, the library's list Dates). Runs
 * for every Service on every pass, so no JSON and no Date objects (it was ~10 µs a call).
 */
export function sameConditions(a: readonly KubeCondition[], b: readonly KubeCondition[]): boolean {
  return a.length === b.length && a.every((x, i) => {
    const y = b[i]!;
    return x.type === y.type && x.status === y.status && x.reason === y.reason && x.message === y.message &&
      x.observedGeneration === y.observedGeneration && instant(x.lastTransitionTime) === instant(y.lastTransitionTime);
  });
}

/**
 * `current` with the types `owned` replaced by `wanted` where they stand, dropped when not
 * wanted, appended when new. In place, so two writers of one list (VIPAllocated here, Served and
 * Announced in service-conditions.ts) never reorder each other's: that would be a write each.
 */
export function replacedInPlace(current: readonly KubeCondition[], owned: ReadonlySet<string>, wanted: readonly KubeCondition[]): KubeCondition[] {
  const byType = new Map(wanted.map((c) => [c.type, c]));
  const out: KubeCondition[] = [];
  for (const c of current) {
    if (!owned.has(c.type)) out.push(c);
    else if (byType.has(c.type)) out.push(byType.get(c.type)!);
  }
  for (const c of wanted) if (!current.some((x) => x.type === c.type)) out.push(c);
  return out;
}

/** The status the Service should have, as a merge-patch body, or undefined when it already has it. */
export function desiredStatus(svc: KubeService, decision: Decision, now: Date): Record<string, unknown> | undefined {
  const current = svc.status?.conditions ?? [];
  const generation = svc.metadata?.generation;
  const ours: KubeCondition[] = [];
  if (decision.managed) {
    ours.push(
      decision.failure === undefined
        ? condition(current, ConditionType.vipAllocated, 'True', 'Allocated', `VIPs ${decision.addresses.join(', ')}`, now, generation)
        : condition(current, ConditionType.vipAllocated, 'False', decision.failure.reason, decision.failure.message, now, generation),
    );
  }
  if ((svc.spec?.externalIPs ?? []).length > 0) {
    const refused = decision.refusedExternalIPs;
    ours.push(
      refused.length === 0
        ? condition(current, ConditionType.externalIPsAllowed, 'True', 'Allowed', 'every external IP is allowed by a VIPPool', now, generation)
        : condition(current, ConditionType.externalIPsAllowed, 'False', 'ExternalIPNotAllowed', refused.map((r) => r.message).join('; '), now, generation),
    );
  }
  const conditions = replacedInPlace(current, OUR_TYPES, ours);
  const ingress = decision.addresses.map((ip) => ({ ip, ipMode: 'VIP' }));
  if ((!decision.managed || sameIngress(svc.status?.loadBalancer?.ingress ?? [], ingress)) && sameConditions(conditions, current)) return undefined;
  return {
    ...(decision.managed ? { loadBalancer: { ingress: ingress.length === 0 ? null : ingress } } : {}),
    conditions: conditions.length === 0 ? null : conditions,
  };
}

/** `port/PROTO` of each Service port (TCP when unset, as the API server defaults it). */
export function portKeys(svc: KubeService): string[] {
  return (svc.spec?.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`);
}
