// The declarative description of a lab network and its translation into commands. Pure: the
// plan is data (namespace names, `ip` batch lines, sysctls), so it is checked without root and
// lab.ts only carries it out.
import { formatCidr, parseCidr, parseIp } from '../src/net/index.ts';
import { LabError, LabErrorCode } from './errors.ts';

export interface Topology {
  readonly hosts: readonly LabHost[];
  /** L2 segments: two members are a veth pair; more members share a bridge inside one of them. */
  readonly segments: readonly Segment[];
  /** Backend "pods": each its own namespace with a veth to its node, like a CNI with routable pod IPs. */
  readonly pods?: readonly Pod[];
}

export interface LabHost {
  /** Host name; its namespace is `<prefix>-<name>`. */
  readonly name: string;
  /** Sets net.ipv4.ip_forward and net.ipv6.conf.all.forwarding. */
  readonly forwarding?: boolean;
  /** Extra sysctls inside the namespace, e.g. { "net.ipv4.fib_multipath_hash_policy": "1" }. */
  readonly sysctls?: Readonly<Record<string, string>>;
  readonly routes?: readonly LabRoute[];
}

export interface LabRoute {
  /** A prefix ("10.100.1.0/24", "fd00:200::/64") or "default" (family taken from `via`). */
  readonly to: string;
  readonly via?: string;
  readonly dev?: string;
}

export interface Segment {
  /** Segment name; also the interface name in every member (so at most 12 characters). */
  readonly name: string;
  readonly members: readonly SegmentMember[];
  /** For a bridged segment, the member host whose namespace holds the bridge (default: the first). */
  readonly bridgeIn?: string;
}

export interface SegmentMember {
  readonly host: string;
  /** "address/len", IPv4 and IPv6; IPv6 ones are added with `nodad`. */
  readonly addresses?: readonly string[];
}

export interface Pod {
  /** Pod name: its namespace is `<prefix>-<name>` and its HTTP backend answers with this name. */
  readonly name: string;
  readonly node: string;
  /** Bare pod IPs (one IPv4, optionally one IPv6), routed by the node as /32 and /128. */
  readonly addresses: readonly string[];
}

/** The node side of every pod veth answers for these gateways (Calico's trick: one address, many links). */
export const POD_GATEWAY = { v4: '169.254.1.1', v6: 'fe80::1' } as const;
/** Interface name of a pod's veth inside the pod. */
export const POD_IFNAME = 'eth0';

export interface NamespaceSetup {
  readonly host: string;
  readonly ns: string;
  /** "key=value", applied before any link exists so that new links inherit `default.*`. */
  readonly sysctls: readonly string[];
  /** Lines for `ip -n <ns> -batch -`, in order: bridges, ports, addresses, links up, routes. */
  readonly batch: readonly string[];
}

export interface LabPlan {
  readonly prefix: string;
  /** Every namespace the lab creates, in creation order. */
  readonly namespaces: readonly string[];
  /** `ip -batch -` lines run from the root namespace; each creates both veth ends inside namespaces. */
  readonly veths: readonly string[];
  readonly setups: readonly NamespaceSetup[];
}

const NAME = /^[a-z][a-z0-9]*$/;
export const PREFIX = /^[a-z][a-z0-9]{1,11}$/;
const IFNAMSIZ = 15;

function bad(message: string): LabError {
  return new LabError(LabErrorCode.badTopology, message);
}

function isV6(text: string): boolean {
  return text.includes(':');
}

function checkAddress(where: string, text: string): string {
  try {
    parseCidr(text, { allowHostBits: true });
    if (!text.includes('/')) throw new Error('needs a prefix length');
  } catch (cause) {
    throw bad(`${where}: address "${text}" is not "address/len" (${cause instanceof Error ? cause.message : String(cause)})`);
  }
  return text;
}

function routeLine(host: string, route: LabRoute): string {
  const where = `host ${host}: route to ${route.to}`;
  if (route.via === undefined && route.dev === undefined) throw bad(`${where} needs "via" or "dev"`);
  let to = route.to;
  if (to === 'default') {
    if (route.via === undefined) throw bad(`${where}: "default" needs "via" to tell IPv4 from IPv6`);
  } else {
    try {
      to = formatCidr(parseCidr(to));
    } catch (cause) {
      throw bad(`${where}: ${cause instanceof Error ? cause.message : String(cause)}`);
    }
  }
  if (route.via !== undefined) parseIp(route.via);
  // `ip -batch` takes no "-6" per line: the family comes from the prefix, so IPv6 default is ::/0.
  if (to === 'default' && isV6(route.via ?? '')) to = '::/0';
  return ['route add', to, ...(route.via === undefined ? [] : ['via', route.via]), ...(route.dev === undefined ? [] : ['dev', route.dev])].join(' ');
}

function addressLines(addresses: readonly string[], dev: string): string[] {
  return addresses.map((a) => `addr add ${a} dev ${dev}${isV6(a) ? ' nodad' : ''}`);
}

/** Checks the description and turns it into the commands that build it under `prefix`. */
export function planTopology(topology: Topology, prefix: string): LabPlan {
  if (!PREFIX.test(prefix)) throw new LabError(LabErrorCode.badPrefix, `lab prefix "${prefix}" must be 2 to 12 lowercase letters or digits, starting with a letter`);
  const pods = topology.pods ?? [];
  const hostNames = [...topology.hosts.map((h) => h.name), ...pods.map((p) => p.name)];
  const known = new Set<string>();
  for (const name of hostNames) {
    if (!NAME.test(name)) throw bad(`host/pod name "${name}" must be lowercase letters and digits, starting with a letter`);
    if (known.has(name)) throw bad(`host/pod name "${name}" is used twice`);
    known.add(name);
  }
  const requireHost = (where: string, name: string): void => {
    if (!known.has(name)) throw bad(`${where}: unknown host "${name}"; hosts are ${[...known].join(', ')}`);
  };
  const ns = (host: string): string => `${prefix}-${host}`;

  const batches = new Map<string, { links: string[]; ports: string[]; addresses: string[]; routes: string[] }>(
    hostNames.map((h) => [h, { links: ['link set lo up'], ports: [], addresses: [], routes: [] }]),
  );
  const batchOf = (host: string) => batches.get(host)!;
  const ifnames = new Map<string, Set<string>>(hostNames.map((h) => [h, new Set<string>()]));
  const claim = (host: string, ifname: string, where: string): string => {
    if (ifname.length > IFNAMSIZ) throw bad(`${where}: interface name "${ifname}" is longer than ${IFNAMSIZ} characters`);
    const names = ifnames.get(host)!;
    if (names.has(ifname)) throw bad(`${where}: host ${host} already has an interface "${ifname}"`);
    names.add(ifname);
    batchOf(host).links.push(`link set ${ifname} up`);
    return ifname;
  };
  const veths: string[] = [];
  const segmentNames = new Set<string>();

  for (const segment of topology.segments) {
    const where = `segment ${segment.name}`;
    if (!NAME.test(segment.name) || segment.name.length > IFNAMSIZ - 3) throw bad(`${where}: name must be lowercase letters/digits, at most ${IFNAMSIZ - 3} characters`);
    if (segmentNames.has(segment.name)) throw bad(`${where}: name used twice`);
    segmentNames.add(segment.name);
    if (segment.members.length < 2) throw bad(`${where}: needs at least 2 members`);
    for (const m of segment.members) {
      requireHost(where, m.host);
      for (const a of m.addresses ?? []) checkAddress(`${where}, member ${m.host}`, a);
    }
    if (segment.members.length === 2) {
      const [a, b] = segment.members as readonly [SegmentMember, SegmentMember];
      if (a.host === b.host) throw bad(`${where}: a veth pair needs two different hosts`);
      claim(a.host, segment.name, where);
      claim(b.host, segment.name, where);
      veths.push(`link add ${segment.name} netns ${ns(a.host)} type veth peer name ${segment.name} netns ${ns(b.host)}`);
      batchOf(a.host).addresses.push(...addressLines(a.addresses ?? [], segment.name));
      batchOf(b.host).addresses.push(...addressLines(b.addresses ?? [], segment.name));
      continue;
    }
    const bridgeHost = segment.bridgeIn ?? segment.members[0]!.host;
    if (!segment.members.some((m) => m.host === bridgeHost)) throw bad(`${where}: bridgeIn "${bridgeHost}" is not a member`);
    const bridge = batchOf(bridgeHost);
    claim(bridgeHost, segment.name, where);
    bridge.links.unshift(`link add ${segment.name} type bridge`);
    segment.members.forEach((m, index) => {
      if (m.host === bridgeHost) {
        bridge.addresses.push(...addressLines(m.addresses ?? [], segment.name));
        return;
      }
      const port = claim(bridgeHost, `${segment.name}-${index}`, where);
      claim(m.host, segment.name, where);
      veths.push(`link add ${segment.name} netns ${ns(m.host)} type veth peer name ${port} netns ${ns(bridgeHost)}`);
      bridge.ports.push(`link set ${port} master ${segment.name}`);
      batchOf(m.host).addresses.push(...addressLines(m.addresses ?? [], segment.name));
    });
  }

  for (const pod of pods) {
    const where = `pod ${pod.name}`;
    requireHost(where, pod.node);
    if (pods.some((p) => p.name === pod.node)) throw bad(`${where}: node "${pod.node}" is itself a pod`);
    const v4 = pod.addresses.filter((a) => !isV6(a));
    const v6 = pod.addresses.filter(isV6);
    if (v4.length > 1 || v6.length > 1 || pod.addresses.length === 0) throw bad(`${where}: give one IPv4 and at most one IPv6 address`);
    for (const a of pod.addresses) parseIp(a);
    const nodeIf = claim(pod.node, `v${pod.name}`, where);
    claim(pod.name, POD_IFNAME, where);
    veths.push(`link add ${nodeIf} netns ${ns(pod.node)} type veth peer name ${POD_IFNAME} netns ${ns(pod.name)}`);
    const node = batchOf(pod.node);
    node.addresses.push(`addr add ${POD_GATEWAY.v4}/32 dev ${nodeIf}`, `addr add ${POD_GATEWAY.v6}/64 dev ${nodeIf} nodad`);
    const self = batchOf(pod.name);
    for (const a of v4) {
      self.addresses.push(`addr add ${a}/32 dev ${POD_IFNAME}`);
      node.routes.push(`route add ${a}/32 dev ${nodeIf}`);
    }
    for (const a of v6) {
      self.addresses.push(`addr add ${a}/128 dev ${POD_IFNAME} nodad`);
      node.routes.push(`route add ${a}/128 dev ${nodeIf}`);
    }
    self.routes.push(`route add default via ${POD_GATEWAY.v4} dev ${POD_IFNAME} onlink`);
    if (v6.length > 0) self.routes.push(`route add ::/0 via ${POD_GATEWAY.v6} dev ${POD_IFNAME}`);
  }

  const hostByName = new Map(topology.hosts.map((h) => [h.name, h]));
  const setups = hostNames.map((name): NamespaceSetup => {
    const host = hostByName.get(name);
    const b = batchOf(name);
    for (const route of host?.routes ?? []) b.routes.push(routeLine(name, route));
    const sysctls = ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'];
    // A pod answers from its own address; the node forwards to it.
    if (host?.forwarding === true || pods.some((p) => p.node === name)) sysctls.push('net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
    for (const [key, value] of Object.entries(host?.sysctls ?? {})) sysctls.push(`${key}=${value}`);
    return { host: name, ns: ns(name), sysctls, batch: [...b.links.filter((l) => l.includes('type bridge')), ...b.ports, ...b.addresses, ...b.links.filter((l) => !l.includes('type bridge')), ...b.routes] };
  });
  return { prefix, namespaces: hostNames.map(ns), veths, setups };
}
