// The Served and Announced conditions from the LB nodes' read-backs (docs/design/019): pure.
// A node's LBNodeStatus lists only what is wrong there; a Service is served when some fresh
// report that covers it does not list it.
import type { KubeCondition, KubeLbNodeStatus, KubeService, KubeVipPool } from '../kube/index.ts';
import { ingressAddresses, isOurLoadBalancer, keyOf, type ClassPolicy } from '../kube-model/index.ts';
import { parseRange, rangeContains, tryParseIp, type IpRange } from '../net/index.ts';
import { condition, replacedInPlace, sameConditions } from './assign.ts';
import { ConditionType } from './errors.ts';

type Which = 'Served' | 'Announced';
type State = { readonly status: 'True' | 'False' | 'Unknown'; readonly reason: string; readonly message: string };

/** One node's report, as the controller reads it (anything malformed is left out). */
export interface NodeView {
  readonly node: string;
  readonly observedAt: number;
  readonly refreshSeconds: number;
  readonly announcementChecked: boolean;
  readonly truncated: boolean;
  /** `service|Served` / `service|Announced` → `reason`, `message`. */
  readonly problems: ReadonlyMap<string, { readonly reason: string; readonly message: string }>;
}

/** A report is stale once it is older than this many refresh periods. */
export const STALE_AFTER_REFRESHES = 3;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function nodeView(o: KubeLbNodeStatus): NodeView | undefined {
  const s = o.status ?? {};
  const observedAt = Date.parse(str(s['observedAt']) ?? '');
  const refreshSeconds = s['refreshSeconds'];
  if (o.metadata?.name === undefined || Number.isNaN(observedAt) || typeof refreshSeconds !== 'number') return undefined;
  const problems = new Map<string, { reason: string; message: string }>();
  for (const p of Array.isArray(s['problems']) ? (s['problems'] as unknown[]) : []) {
    const e = (p ?? {}) as Record<string, unknown>;
    const [service, cond, reason, message] = [str(e['service']), str(e['condition']), str(e['reason']), str(e['message'])];
    if (service !== undefined && cond !== undefined && reason !== undefined) problems.set(`${service}|${cond}`, { reason, message: message ?? '' });
  }
  return { node: o.metadata.name, observedAt, refreshSeconds, announcementChecked: s['announcementChecked'] !== false, truncated: s['truncated'] === true, problems };
}

/** Fresh reports, by node name. */
export function freshViews(objects: readonly KubeLbNodeStatus[], now: Date): NodeView[] {
  return objects
    .map(nodeView)
    .filter((v): v is NodeView => v !== undefined && now.getTime() - v.observedAt <= STALE_AFTER_REFRESHES * v.refreshSeconds * 1000)
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

/** Whether vipgate serves the Service: a LoadBalancer of its class holding VIPs, or external IPs. */
export function servedByUs(svc: KubeService, policy: ClassPolicy): boolean {
  return (isOurLoadBalancer(svc, policy) && ingressAddresses(svc).length > 0) || (svc.spec?.externalIPs ?? []).length > 0;
}

/** Since when the agents could have programmed it: its VIPs' assignment, else its creation. */
function coveredFrom(svc: KubeService): number {
  const allocated = svc.status?.conditions?.find((c) => c.type === ConditionType.vipAllocated && c.status === 'True');
  const at = allocated?.lastTransitionTime ?? svc.metadata?.creationTimestamp;
  return at === undefined ? 0 : new Date(at).getTime();
}

const TRUE_MESSAGE: Readonly<Record<Which, string>> = {
  Served: 'read back from the kernel as the table says on at least one LB node',
  Announced: 'told to a router (BGP) or answered on the segment (L2) by at least one LB node',
};
const MAX_MESSAGE = 1024;

/** One condition of one Service from the fresh reports. */
export function aggregate(key: string, which: Which, from: number, views: readonly NodeView[]): State {
  const covering = views.filter((v) => v.observedAt >= from);
  const able = which === 'Announced' ? covering.filter((v) => v.announcementChecked) : covering;
  if (able.length === 0) {
    if (covering.length > 0) return { status: 'Unknown', reason: 'StaticRoutes', message: 'no routing protocol: no LB node can check that clients have a route to the VIP' };
    return { status: 'Unknown', reason: 'NoReport', message: views.length === 0 ? 'no LB node has reported recently (is the agent running?)' : 'no LB node has reported since the Service got its VIPs' };
  }
  const failing: string[] = [];
  let reason = '';
  let unlisted = false;
  for (const v of able) {
    const p = v.problems.get(`${key}|${which}`);
    if (p === undefined) {
      if (!v.truncated) return { status: 'True', reason: which, message: TRUE_MESSAGE[which] };
      unlisted = true;
      continue;
    }
    if (reason === '') reason = p.reason;
    failing.push(`${v.node}: ${p.message}`);
  }
  if (unlisted) return { status: 'Unknown', reason: 'ReportTruncated', message: `${failing.join('; ')}; the other LB nodes have more problems than their report lists`.slice(0, MAX_MESSAGE) };
  return { status: 'False', reason, message: failing.join('; ').slice(0, MAX_MESSAGE) };
}

/** The Served and Announced conditions the Service should have (none when vipgate does not serve it). */
export function serviceStates(svc: KubeService, views: readonly NodeView[], policy: ClassPolicy): { served: State; announced: State } | undefined {
  if (!servedByUs(svc, policy)) return undefined;
  const key = keyOf(svc);
  const from = coveredFrom(svc);
  return { served: aggregate(key, 'Served', from, views), announced: aggregate(key, 'Announced', from, views) };
}

const MINE: ReadonlySet<string> = new Set([ConditionType.served, ConditionType.announced]);

/**
 * The whole conditions list with ours replaced in place (so the VIPAllocated writer, which
 * keeps other types first, and this one agree on the order), or undefined when it is right already.
 */
export function conditionsPatch(svc: KubeService, states: { served: State; announced: State } | undefined, now: Date): KubeCondition[] | undefined {
  const current = svc.status?.conditions ?? [];
  const generation = svc.metadata?.generation;
  const wanted: KubeCondition[] = [];
  if (states !== undefined) {
    for (const [type, s] of [[ConditionType.served, states.served], [ConditionType.announced, states.announced]] as const) {
      wanted.push(condition(current, type, s.status, s.reason, s.message, now, generation));
    }
  }
  const next = replacedInPlace(current, MINE, wanted);
  return sameConditions(next, current) ? undefined : next;
}

/** VIPPool `vipgate.io/Announced`: False when some VIP of the pool held by a Service is announced nowhere. */
export function poolAnnounced(pool: KubeVipPool, vipStates: ReadonlyMap<string, { service: string; state: State }>): State {
  const ranges: IpRange[] = [];
  const raw = pool.spec?.['addresses'];
  for (const a of Array.isArray(raw) ? raw : []) {
    try {
      if (typeof a === 'string') ranges.push(parseRange(a));
    } catch {
      // the pool's own condition says what is wrong with it
    }
  }
  const mine = [...vipStates].filter(([vip]) => {
    const ip = tryParseIp(vip);
    return ip !== undefined && ranges.some((r) => rangeContains(r, ip));
  });
  const down = mine.filter(([, s]) => s.state.status === 'False');
  if (down.length > 0) {
    const named = down.slice(0, 5).map(([vip, s]) => `${vip} (${s.service}: ${s.state.reason})`).join(', ');
    return { status: 'False', reason: 'NotAnnounced', message: `${down.length} of ${mine.length} VIPs announced by no LB node: ${named}${down.length > 5 ? ', …' : ''}` };
  }
  const unknown = mine.filter(([, s]) => s.state.status === 'Unknown');
  if (unknown.length > 0) return { status: 'Unknown', reason: unknown[0]![1].state.reason, message: `${unknown.length} of ${mine.length} VIPs not known to be announced, e.g. ${unknown[0]![0]} (${unknown[0]![1].state.message})` };
  return { status: 'True', reason: 'Announced', message: mine.length === 0 ? 'no Service holds a VIP of this pool' : `all ${mine.length} VIPs held by Services are announced` };
}

/** VIP → the Service holding it and its Announced state, for the pools. */
export function vipAnnouncements(services: readonly KubeService[], statesOf: (svc: KubeService) => { announced: State } | undefined): Map<string, { service: string; state: State }> {
  const out = new Map<string, { service: string; state: State }>();
  for (const svc of services) {
    const s = statesOf(svc);
    if (s === undefined) continue;
    for (const vip of [...ingressAddresses(svc), ...(svc.spec?.externalIPs ?? [])]) out.set(vip, { service: keyOf(svc), state: s.announced });
  }
  return out;
}
