// What this LB node tells the cluster about the Services it serves (docs/design/019): per
// Service, whether it is served here and announced from here, found by the same walk as
// `vipgate explain` over one snapshot of the whole node. Pure: the agent gathers the snapshot and
// writes the result.
import type { SentRoute } from '../bgp/index.ts';
import type { ServiceSpec } from '../model/index.ts';
import { explain, type ExplainLink, type ExplainSnapshot } from './explain.ts';

export const ReportCondition = { served: 'Served', announced: 'Announced' } as const;
export type ReportCondition = (typeof ReportCondition)[keyof typeof ReportCondition];

/** One Service not served or not announced on this node, and why. */
export interface NodeProblem {
  readonly service: string;
  readonly condition: ReportCondition;
  /** CamelCase, as metav1.Condition reasons are. */
  readonly reason: string;
  readonly message: string;
  /** When this node first saw the problem (ISO 8601). */
  readonly since: string;
}

/** The body of an LBNodeStatus's `status`. */
export interface NodeReport {
  readonly observedAt: string;
  readonly refreshSeconds: number;
  /** Services this node reports on (with a VIP in its input or a frontend in its table). */
  readonly services: number;
  readonly served: number;
  readonly announced: number;
  /** False with static routes: nothing on this node can check that clients were told. */
  readonly announcementChecked: boolean;
  /** Sorted by service, then condition; at most `maxProblems`. */
  readonly problems: readonly NodeProblem[];
  readonly truncated: boolean;
}

/** Reasons of a broken `explain` link (the first broken one before the announcement says why a Service is not served). */
const SERVED_REASON: Readonly<Record<string, string>> = {
  service: 'LeftOut', policy: 'ExternalIPRejected', allocation: 'AllocationFailed', node: 'Drained',
  frontend: 'NotInTable', backends: 'NoReadyBackend', dataplane: 'KernelDiffers',
};

/** What one look found: the Services looked at, and what is wrong with some. */
export interface Findings {
  readonly services: number;
  readonly keys: ReadonlySet<string>;
  readonly problems: readonly Finding[];
}

/** What a report carries over from the previous look. */
export interface ReportMemory {
  /** service|condition|reason → when first seen (ISO 8601). */
  readonly firstSeen: ReadonlyMap<string, string>;
  /** The Services of the previous look. */
  readonly known: ReadonlySet<string>;
  /** The problems (service|condition|reason) listed at the previous look: they stay listed while they last. */
  readonly listed: ReadonlySet<string>;
}

export const NO_MEMORY: ReportMemory = { firstSeen: new Map(), known: new Set(), listed: new Set() };

/** A state the walk found for one condition of one Service on this node, before `since` is known. */
export interface Finding {
  readonly service: string;
  readonly condition: ReportCondition;
  readonly reason: string;
  readonly message: string;
}

const MAX_MESSAGE = 240;
const clip = (s: string): string => (s.length <= MAX_MESSAGE ? s : `${s.slice(0, MAX_MESSAGE - 1)}…`);

function servedFinding(key: string, links: readonly ExplainLink[], snap: ExplainSnapshot): Finding | undefined {
  const bad = links.find((l) => l.state === 'broken' && l.link !== 'announcement' && l.link !== 'traffic');
  if (bad === undefined) return undefined;
  const failed = bad.link === 'dataplane' && (snap.status.lastPass?.errors.some((e) => e.startsWith('DATAPLANE_FAILED')) ?? false);
  return { service: key, condition: ReportCondition.served, reason: failed ? 'DataplaneFailed' : (SERVED_REASON[bad.link] ?? 'Broken'), message: clip(bad.says) };
}

function announcedFinding(key: string, links: readonly ExplainLink[], snap: ExplainSnapshot): Finding | undefined {
  const link = links.find((l) => l.link === 'announcement');
  if (link?.state !== 'broken') return undefined;
  return { service: key, condition: ReportCondition.announced, reason: announceReason(link, snap), message: clip(link.says) };
}

/** Which part of the announcement failed, from the snapshot rather than the sentence. */
function announceReason(link: ExplainLink, snap: ExplainSnapshot): string {
  if (link.says.includes('no ready backend')) return 'NoReadyBackend';
  if (snap.drain?.state === 'drained') return 'Drained';
  if (link.says.startsWith('L2:')) return link.says.includes('subnet of no L2 interface') ? 'NoL2Interface' : 'NoL2Owner';
  if (snap.bgp !== undefined && !snap.bgp.peers.some((p) => p.state === 'Established')) return 'NoBGPSession';
  return 'NotAdvertised';
}

/**
 * The walk for every Service, each over a snapshot cut down to that Service (the full table,
 * the Adj-RIB-Out and the L2 view would make 10,000 walks cost 10,000 × 10,000).
 */
export function findings(snap: ExplainSnapshot): Findings {
  const frontendsOf = groupBy(snap.status.table.frontends, (f) => f.service);
  const specs = new Map<string, ServiceSpec>((snap.status.input?.services ?? []).map((s) => [s.key, s]));
  const keys = new Set<string>(frontendsOf.keys());
  for (const s of specs.values()) if (s.externalIPs.length + s.requestedIPs.length > 0) keys.add(s.key);
  const problemsOf = groupBy(snap.status.problems, (p) => p.service);
  const advertised = new Set(snap.status.advertisements);
  const sentByPrefix = snap.bgp === undefined ? undefined : indexSent(snap.bgp.sent);
  const l2ByVip = snap.l2 === undefined ? undefined : groupBy(snap.l2.vips, (v) => v.vip);
  const out: Finding[] = [];
  for (const key of [...keys].sort()) {
    const frontends = frontendsOf.get(key) ?? [];
    const spec = specs.get(key);
    const vips = [...new Set(frontends.map((f) => f.address))];
    const prefixes = vips.map((v) => (v.includes(':') ? `${v}/128` : `${v}/32`));
    const one: ExplainSnapshot = {
      ...snap,
      status: {
        ...snap.status,
        table: { ...snap.status.table, frontends },
        problems: problemsOf.get(key) ?? [],
        advertisements: prefixes.filter((p) => advertised.has(p)),
        ...(snap.status.input === undefined ? {} : { input: { ...snap.status.input, services: spec === undefined ? [] : [spec] } }),
      },
      ...(snap.bgp === undefined || sentByPrefix === undefined ? {} : { bgp: { peers: snap.bgp.peers, sent: sentFor(sentByPrefix, prefixes) } }),
      ...(snap.l2 === undefined || l2ByVip === undefined ? {} : { l2: { ...snap.l2, vips: vips.flatMap((v) => l2ByVip.get(v) ?? []) } }),
    };
    const { links } = explain({ kind: 'service', key, text: key }, one);
    const served = servedFinding(key, links, one);
    const announced = announcedFinding(key, links, one);
    if (served !== undefined) out.push(served);
    if (announced !== undefined) out.push(announced);
  }
  return { services: keys.size, keys, problems: out };
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list === undefined) out.set(k, [item]);
    else list.push(item);
  }
  return out;
}

/** peer → host routes by prefix, and the few covering (aggregate) routes every VIP is checked against. */
interface SentIndex {
  readonly peers: ReadonlyMap<string, { readonly hosts: ReadonlyMap<string, SentRoute>; readonly covering: readonly SentRoute[] }>;
}

function indexSent(sent: ReadonlyMap<string, readonly SentRoute[]>): SentIndex {
  const peers = new Map<string, { hosts: Map<string, SentRoute>; covering: SentRoute[] }>();
  for (const [peer, routes] of sent) {
    const entry = { hosts: new Map<string, SentRoute>(), covering: [] as SentRoute[] };
    for (const r of routes) {
      if (r.prefix.endsWith('/32') || r.prefix.endsWith('/128')) entry.hosts.set(r.prefix, r);
      else entry.covering.push(r);
    }
    peers.set(peer, entry);
  }
  return { peers };
}

function sentFor(index: SentIndex, prefixes: readonly string[]): Map<string, readonly SentRoute[]> {
  const out = new Map<string, readonly SentRoute[]>();
  for (const [peer, { hosts, covering }] of index.peers) {
    out.set(peer, [...prefixes.flatMap((p) => { const r = hosts.get(p); return r === undefined ? [] : [r]; }), ...covering]);
  }
  return out;
}

export interface ReportOptions {
  readonly refreshSeconds: number;
  /** A problem is reported once it has lasted this long (one observation: a repair in the same pass never shows). */
  readonly graceMs: number;
  readonly maxProblems: number;
}

/**
 * The report from this look's findings. A problem of a Service that was there at the previous
 * look is listed once it has lasted `graceMs` (a repair in the same pass never shows); one of a
 * Service new here is listed at once (it was never reported served, so there is nothing to
 * protect, and the controller must not read its absence as served). `since` comes from memory.
 */
export function nodeReport(found: Findings, memory: ReportMemory, announcementChecked: boolean, now: Date, o: ReportOptions): { report: NodeReport; memory: ReportMemory } {
  const seen = new Map<string, string>();
  const listed: NodeProblem[] = [];
  const ids = new Set<string>();
  for (const f of found.problems) {
    const id = `${f.service}|${f.condition}|${f.reason}`;
    const since = memory.firstSeen.get(id) ?? now.toISOString();
    seen.set(id, since);
    if (memory.listed.has(id) || !memory.known.has(f.service) || now.getTime() - Date.parse(since) >= o.graceMs) {
      listed.push({ ...f, since });
      ids.add(id);
    }
  }
  const count = (c: ReportCondition): number => found.services - new Set(listed.filter((p) => p.condition === c).map((p) => p.service)).size;
  return {
    memory: { firstSeen: seen, known: found.keys, listed: ids },
    report: {
      observedAt: now.toISOString(),
      refreshSeconds: o.refreshSeconds,
      services: found.services,
      served: count(ReportCondition.served),
      announced: count(ReportCondition.announced),
      announcementChecked,
      problems: listed.slice(0, o.maxProblems),
      truncated: listed.length > o.maxProblems,
    },
  };
}

/** The report without its time: equal means nothing worth a write changed. */
export function reportSignature(r: NodeReport): string {
  return JSON.stringify({ ...r, observedAt: undefined });
}
