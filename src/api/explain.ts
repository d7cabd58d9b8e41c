// `vipgate explain`: why a VIP is (not) reachable through this LB node, as a chain of links walked
// in the order traffic depends on them (docs/design/018-explain.md). Pure: the endpoint gathers a
// snapshot of the agent (its status, the kernel read back, the BGP speaker, L2), this walks it.
import type { PeerStatus, SentRoute } from '../bgp/index.ts';
import type { FrontendCounters, FrontendReadBack } from '../dataplane/dataplane.ts';
import type { ChainLink, ExplainTarget, Frontend, Pool, ServiceProblem, ServiceSpec } from '../model/index.ts';
export { parseTarget, type ExplainTarget, type LinkState } from '../model/index.ts';
import { canonicalIp, cidrContains, parseCidr, parseRange, rangeContains, tryParseIp } from '../net/index.ts';
import type { AgentStatus, DrainStatus, L2StatusView } from './status.ts';
import type { SourceProblem } from './views.ts';

/** The links, in the order a packet needs them. */
export const LINKS = ['service', 'policy', 'allocation', 'node', 'frontend', 'backends', 'dataplane', 'traffic', 'announcement'] as const;
export type LinkName = (typeof LINKS)[number];

export type ExplainLink = ChainLink<LinkName>;


/** One agent's answer (`/v1/explain`). */
export interface Explanation {
  readonly target: string;
  readonly node: string;
  /** The Service the target is (or belongs to), when known. */
  readonly service: string | null;
  /** The frontends (`VIP:port/proto`) of the target in this node's table. */
  readonly frontends: readonly string[];
  /** No link is broken: this node serves the target. */
  readonly served: boolean;
  readonly links: readonly ExplainLink[];
}

/** Everything the walk looks at, gathered by the endpoint at one moment. */
export interface ExplainSnapshot {
  readonly node: string;
  readonly status: AgentStatus;
  readonly leftOut: readonly SourceProblem[];
  readonly drain?: DrainStatus;
  /** The target's frontends read back from the kernel; undefined when the engine cannot. */
  readonly readBack?: ReadonlyMap<string, FrontendReadBack>;
  /** Counters of the target's frontends at two moments `ms` apart. */
  readonly traffic?: { readonly before: ReadonlyMap<string, FrontendCounters>; readonly after: ReadonlyMap<string, FrontendCounters>; readonly ms: number };
  readonly bgp?: { readonly peers: readonly PeerStatus[]; readonly sent: ReadonlyMap<string, readonly SentRoute[]> };
  readonly l2?: L2StatusView;
  /** Without a routing protocol: the prefixes routed to the VIP interface and this node's addresses. */
  readonly routes?: { readonly prefixes: readonly string[]; readonly via: readonly string[] };
}

export function poolOf(pools: readonly Pool[], address: string): Pool | undefined {
  const ip = tryParseIp(address);
  if (ip === undefined) return undefined;
  return pools.find((pool) =>
    pool.addresses.some((a) => {
      try {
        return a.includes('-') ? rangeContains(parseRange(a), ip) : cidrContains(parseCidr(a), ip);
      } catch {
        return false;
      }
    }),
  );
}

const ok = (link: LinkName, says: string): ExplainLink => ({ link, state: 'ok', says });
const unknown = (link: LinkName, says: string): ExplainLink => ({ link, state: 'unknown', says });
const broken = (link: LinkName, says: string, fix: string): ExplainLink => ({ link, state: 'broken', says, fix });

/** What the walk has found so far about the target. */
interface Found {
  readonly spec: ServiceSpec | undefined;
  readonly frontends: readonly Frontend[];
  readonly problems: readonly ServiceProblem[];
  /** The VIPs the target stands for (asked for, or in the table). */
  readonly vips: readonly string[];
}

function find(target: ExplainTarget, snap: ExplainSnapshot): Found {
  const services = snap.status.input?.services ?? [];
  const table = snap.status.table.frontends;
  if (target.kind === 'service') {
    const spec = services.find((s) => s.key === target.key);
    const frontends = table.filter((f) => f.service === target.key);
    const vips = [...new Set([...frontends.map((f) => f.address), ...(spec?.externalIPs ?? []), ...(spec?.requestedIPs ?? [])])];
    return { spec, frontends, problems: snap.status.problems.filter((p) => p.service === target.key), vips };
  }
  const frontends = table.filter((f) => f.address === target.address && (target.port === undefined || f.port === target.port));
  const asking = services.find((s) => [...s.externalIPs, ...s.requestedIPs].some((a) => tryParseIp(a) !== undefined && canonicalIp(a) === target.address));
  const key = frontends[0]?.service ?? asking?.key;
  const spec = services.find((s) => s.key === key);
  return { spec, frontends, problems: snap.status.problems.filter((p) => p.service === key), vips: [target.address] };
}

/** Walks the chain for `target` on this node. Links after the first broken one are still shown. */
export function explain(target: ExplainTarget, snap: ExplainSnapshot): Explanation {
  const found = find(target, snap);
  const links: ExplainLink[] = [serviceLink(target, found, snap), policyLink(found, snap), allocationLink(found, snap), nodeLink(snap), frontendLink(target, found),
    backendsLink(found), dataplaneLink(found, snap), trafficLink(found, snap), announcementLink(found, snap)];
  return {
    target: target.text,
    node: snap.node,
    service: found.spec?.key ?? found.frontends[0]?.service ?? null,
    frontends: found.frontends.map((f) => f.key),
    served: links.every((l) => l.state !== 'broken'),
    links,
  };
}

function portsText(spec: ServiceSpec): string {
  return spec.ports.map((p) => `${p.port}/${p.protocol}`).join(', ');
}

function serviceLink(target: ExplainTarget, found: Found, snap: ExplainSnapshot): ExplainLink {
  const spec = found.spec;
  if (spec !== undefined) {
    const asked = spec.type === 'LoadBalancer' ? (spec.requestedIPs.length > 0 ? `asks for ${spec.requestedIPs.join(', ')}` : `IPAM picks the address${spec.pool === undefined ? '' : ` from pool ${spec.pool}`}`) : '';
    const external = spec.externalIPs.length > 0 ? `externalIPs ${spec.externalIPs.join(', ')}` : '';
    return ok('service', `${spec.key}: ${spec.type}, ${[asked, external].filter((x) => x !== '').join(', ') || 'no VIP asked'}, ports ${portsText(spec) || '(none)'}`);
  }
  const name = target.kind === 'service' ? target.key : undefined;
  const left = snap.leftOut.find((p) => (name !== undefined && p.object.includes(name)) || (target.kind === 'vip' && p.message.includes(target.address)));
  if (left !== undefined) return broken('service', `${left.object} was left out by the source: ${left.message}`, `fix ${left.object} as the message says; it is served once the source accepts it`);
  if (snap.status.input === undefined) return unknown('service', 'this agent has no input yet (no reconcile pass)');
  if (name !== undefined) {
    return broken('service', `this node knows no Service ${name}`, 'add it to services: in the config file (standalone), or check its type and spec.loadBalancerClass (Kubernetes: vipgate serves LoadBalancer Services of its class and Services with externalIPs)');
  }
  const vip = target.kind === 'vip' ? target.address : '';
  const pool = poolOf(snap.status.input.pools, vip);
  return broken('service', `no Service asks for ${vip}${pool === undefined ? ', and it is in no pool' : ` (it is in pool ${pool.name})`}`,
    `name ${vip} in a Service: spec.externalIPs, or spec.loadBalancerIP / the ipam annotation of a LoadBalancer`);
}

function policyLink(found: Found, snap: ExplainSnapshot): ExplainLink {
  const rejected = found.problems.filter((p) => p.code === 'EXTERNAL_IP_REJECTED');
  if (rejected.length > 0) {
    return broken('policy', rejected.map((p) => p.message).join('; '),
      'only addresses of a pool with allowExternalIPs: true (and the Service\'s namespace in its namespaces) may be named in externalIPs: use one, or allow it on the pool');
  }
  const ranges = found.spec === undefined || found.spec.sourceRanges.length === 0 ? 'any client' : `clients in ${found.spec.sourceRanges.join(', ')} (loadBalancerSourceRanges)`;
  const deny = snap.status.table.denySources;
  return ok('policy', `serves ${ranges}${deny.length === 0 ? '' : `; never the cluster nodes (denySources ${deny.join(', ')})`}`);
}

function allocationLink(found: Found, snap: ExplainSnapshot): ExplainLink {
  const failed = found.problems.filter((p) => p.code === 'ALLOCATION_FAILED');
  if (failed.length > 0) {
    return broken('allocation', failed.map((p) => p.message).join('; '),
      'give the Service a pool it may use: add addresses to a pool (or free some), fix the pool it names, or ask for an address in a pool its namespace and labels may use');
  }
  const pools = snap.status.input?.pools ?? [];
  const vips = [...new Set(found.frontends.map((f) => f.address))];
  if (vips.length === 0) return unknown('allocation', found.spec === undefined ? 'no Service, no address' : 'no address is served for it yet');
  return ok('allocation', vips.map((v) => `${v} (${poolOf(pools, v)?.name === undefined ? 'in no pool' : `pool ${poolOf(pools, v)!.name}`})`).join(', '));
}

function nodeLink(snap: ExplainSnapshot): ExplainLink {
  const d = snap.drain;
  if (d !== undefined && d.state !== 'not-drained') {
    const by = d.requestedBy.length === 0 ? '' : ` (${d.requestedBy.join(', ')})`;
    return broken('node', `${snap.node} is ${d.state} since ${d.since}${by}: ${d.state === 'drained' ? 'its routes are withdrawn' : 'its routes are being moved to other LB nodes'}`,
      `if ${snap.node} should serve again: vipgate undrain on it (a cordoned Node: kubectl uncordon; an LBNodeConfig: clear spec.drain)`);
  }
  if (snap.status.configError !== undefined) return ok('node', `${snap.node} is in service, on its last good config (the newest was refused: ${snap.status.configError})`);
  return ok('node', `${snap.node} is in service`);
}

function frontendLink(target: ExplainTarget, found: Found): ExplainLink {
  const clash = found.problems.filter((p) => p.code === 'FRONTEND_CLASH');
  if (found.frontends.length === 0) {
    if (clash.length > 0) return broken('frontend', clash.map((p) => p.message).join('; '), 'use another address or port for one of the two Services (the first holder keeps it)');
    const what = target.kind === 'vip' && target.port !== undefined ? `${target.address} port ${target.port}` : target.text;
    const ports = found.spec === undefined ? '' : ` (the Service's ports: ${portsText(found.spec) || 'none'})`;
    return broken('frontend', `${what} is not in this node's service table${ports}`, found.spec === undefined ? 'see the links above' : 'check the port asked for against the Service\'s ports, and the links above');
  }
  const note = clash.length > 0 ? `; not served: ${clash.map((p) => p.message).join('; ')}` : '';
  return ok('frontend', `in the table: ${found.frontends.map((f) => f.key).join(', ')}${note}`);
}

function backendsLink(found: Found): ExplainLink {
  if (found.frontends.length === 0) return unknown('backends', 'no frontend');
  const parts = found.frontends.map((f) => {
    const ready = f.backends.filter((b) => b.state === 'ready').length;
    return { f, ready, text: `${f.key}: ${ready} ready, ${f.backends.length - ready} terminating` };
  });
  const empty = parts.filter((p) => p.ready === 0);
  if (empty.length > 0) {
    return broken('backends', `${empty.map((p) => p.text).join('; ')}: new connections are refused and the VIP is not announced`,
      'make a backend ready: Kubernetes, the Pods behind the Service (readiness probe, EndpointSlice conditions.ready); standalone, the backends: of the Service in the config file');
  }
  return ok('backends', parts.map((p) => p.text).join('; '));
}

function dataplaneLink(found: Found, snap: ExplainSnapshot): ExplainLink {
  const failed = snap.status.lastPass?.errors.filter((e) => e.startsWith('DATAPLANE_FAILED')) ?? [];
  if (failed.length > 0) return broken('dataplane', `the last pass could not program the kernel: ${failed.join('; ')}`, 'see the agent log; the agent retries every few seconds and keeps the previous rules meanwhile');
  if (found.frontends.length === 0) return unknown('dataplane', 'no frontend to look for');
  if (snap.readBack === undefined) return unknown('dataplane', `the ${snap.status.engine} engine cannot read its state back`);
  const off = snap.readBack.values().next().value?.program?.filter((p) => !p.attached) ?? [];
  if (off.length > 0) return broken('dataplane', `the xdp program is not attached to ${off.map((p) => p.interface).join(', ')}`, 'restart the agent (it attaches the program at start); check that nothing else detached or replaced it (ip link show)');
  const missing: string[] = [];
  const parts: string[] = [];
  for (const f of found.frontends) {
    const r = snap.readBack.get(f.key);
    const ready = f.backends.some((b) => b.state === 'ready');
    if (r === undefined || !r.present || r.takesNewFlows !== ready) missing.push(`${f.key}: ${r === undefined ? 'not read' : r.present ? `${r.where} ${r.takesNewFlows ? 'takes' : 'refuses'} new flows` : `no ${r.where}`}`);
    else parts.push(`${f.key}: ${r.where}, ${r.backends} backend${r.backends === 1 ? '' : 's'}`);
  }
  if (missing.length > 0) {
    return broken('dataplane', `the kernel differs from the table: ${missing.join('; ')}`,
      'the agent repairs it at its next read-back (dataplane.resyncSeconds) and logs "drifted; repairing"; if it comes back, something else edits the kernel (another nft ruleset, a script): find it');
  }
  return ok('dataplane', `read back from the kernel: ${parts.join('; ')}`);
}

function trafficLink(found: Found, snap: ExplainSnapshot): ExplainLink {
  const t = snap.traffic;
  if (t === undefined || found.frontends.length === 0) return unknown('traffic', 'counters not sampled');
  let packets = 0n;
  for (const f of found.frontends) packets += (t.after.get(f.key)?.packets ?? 0n) - (t.before.get(f.key)?.packets ?? 0n);
  const seconds = (t.ms / 1000).toFixed(1);
  if (packets > 0n) return ok('traffic', `${packets} packets in ${seconds} s`);
  return unknown('traffic', `no packet in ${seconds} s (no client sent any now, or they do not reach this node)`);
}

function prefixesOf(vips: readonly string[]): readonly string[] {
  return vips.map((v) => (v.includes(':') ? `${v}/128` : `${v}/32`));
}

function announcementLink(found: Found, snap: ExplainSnapshot): ExplainLink {
  const vips = [...new Set(found.frontends.map((f) => f.address))];
  if (vips.length === 0) return unknown('announcement', 'nothing to announce');
  const advertised = prefixesOf(vips).filter((p) => snap.status.advertisements.includes(p));
  if (advertised.length === 0) return broken('announcement', `${vips.join(', ')} is not announced: no ready backend`, 'make a backend ready (see backends)');
  const parts: ExplainLink[] = [];
  if (snap.bgp !== undefined) parts.push(bgpLink(vips, snap.bgp, snap.drain?.state === 'drained' ? snap.node : undefined));
  if (snap.l2 !== undefined) parts.push(l2Link(vips, snap.l2));
  if (parts.length === 0) return staticLink(vips, snap.routes);
  const bad = parts.find((p) => p.state === 'broken');
  return bad ?? { link: 'announcement', state: parts.some((p) => p.state === 'unknown') ? 'unknown' : 'ok', says: parts.map((p) => p.says).join('; ') };
}

function covers(route: string, vip: string): boolean {
  const ip = tryParseIp(vip);
  try {
    return ip !== undefined && cidrContains(parseCidr(route), ip);
  } catch {
    return false;
  }
}

function routeText(r: SentRoute): string {
  const attrs = [r.nextHops.length > 0 ? `next hop ${r.nextHops.join(', ')}` : '', r.localPref === undefined ? '' : `local-pref ${r.localPref}`, r.med === undefined ? '' : `med ${r.med}`,
    r.communities.length > 0 ? `communities ${r.communities.join(' ')}` : '', r.largeCommunities.length > 0 ? `large ${r.largeCommunities.join(' ')}` : ''].filter((x) => x !== '');
  return `${r.prefix}${attrs.length > 0 ? ` (${attrs.join(', ')})` : ''}`;
}

/** `drained`: this node's name when it is drained (its routes are withdrawn on purpose). */
function bgpLink(vips: readonly string[], bgp: NonNullable<ExplainSnapshot['bgp']>, drained: string | undefined): ExplainLink {
  // Only the sessions that can carry the VIPs' families (one per family is common).
  const families = new Set(vips.map((v) => (v.includes(':') ? 'ipv6' : 'ipv4')));
  const peers = bgp.peers.filter((p) => p.families === undefined || p.families.some((f) => families.has(f)));
  if (peers.length === 0) return broken('announcement', `BGP is on but no peer carries ${[...families].join(' or ')}`, 'add the routers to bgp.peers, with the family in their families');
  const up = peers.filter((p) => p.state === 'Established');
  if (up.length === 0) {
    const states = peers.map((p) => `${p.address} ${p.state}${p.lastError === undefined ? '' : ` (${p.lastError})`}`).join(', ');
    return broken('announcement', `no BGP session is Established, so no router was told: ${states}`,
      'look at the router side (e.g. birdc show protocols all): is the session enabled, do the ASNs, addresses and password match bgp.peers, does TCP 179 get through?');
  }
  const told: string[] = [];
  const untold: string[] = [];
  for (const peer of peers) {
    const routes = (bgp.sent.get(peer.address) ?? []).filter((r) => vips.some((v) => covers(r.prefix, v)));
    if (routes.length > 0) told.push(`${peer.address} was sent ${routes.map(routeText).join(', ')}`);
    else untold.push(`${peer.address} (${peer.state})`);
  }
  if (told.length === 0 && drained !== undefined) {
    return broken('announcement', `withdrawn from every router: ${drained} is drained`, `vipgate undrain on ${drained} when it should serve again (see node)`);
  }
  if (told.length === 0) {
    return broken('announcement', `no router was sent ${vips.join(', ')}: ${untold.join(', ')}`,
      'check bgp.advertisements (which pools and peers each VIP goes to) and the peers\' families; the agent sends only VIPs with a ready backend');
  }
  return ok('announcement', `BGP: ${told.join('; ')}${untold.length > 0 ? `; not to ${untold.join(', ')}` : ''}`);
}

function l2Link(vips: readonly string[], l2: L2StatusView): ExplainLink {
  const rows = l2.vips.filter((v) => vips.includes(v.vip));
  if (rows.length === 0) return broken('announcement', `L2: ${vips.join(', ')} is in the subnet of no L2 interface of ${l2.node}`, 'add the interface whose subnet holds the VIP to l2.advertisements[].interfaces, or take the VIP from a pool in that subnet');
  const says = rows.map((r) => (r.answering ? `${r.vip} answered here on ${r.interface}` : r.owner === null ? `${r.vip} has no owner (${r.why})` : r.owner === l2.node ? `${r.vip} is owned here but not answered on ${r.interface}` : `${r.vip} is answered by ${r.owner} (${r.why})`));
  const silent = rows.filter((r) => r.owner === l2.node && !r.answering);
  if (silent.length > 0) {
    const failed = l2.failed.find((f) => silent.some((r) => r.interface === f.interface));
    const fix = failed !== undefined ? `the agent cannot answer on ${failed.interface}: ${failed.message}` : 'another MAC answers its probes (a node that cannot see this one by BFD, or a device using the address): vipgate l2 status on the other L2 nodes, and the agent log for the conflicting MAC';
    return broken('announcement', `L2: ${says.join('; ')}`, fix);
  }
  if (rows.some((r) => r.owner === null)) return broken('announcement', `L2: ${says.join('; ')}`, `vipgate l2 status on each L2 node: ${l2.eligible ? 'the owner\'s BFD sessions' : `${l2.node} answers for nothing: ${l2.why}`}`);
  return ok('announcement', `L2: ${says.join('; ')}`);
}

function staticLink(vips: readonly string[], routes: ExplainSnapshot['routes']): ExplainLink {
  const prefix = routes?.prefixes.find((p) => vips.some((v) => covers(p, v)));
  if (prefix === undefined) return unknown('announcement', `no routing protocol, and no VIP interface route covers ${vips.join(', ')}`);
  const via = routes?.via.find((a) => a.includes(':') === prefix.includes(':'));
  return unknown('announcement', `no routing protocol: clients need a static route (ip route add ${prefix} via ${via ?? '<this node\'s address>'}), which this node cannot check`);
}
