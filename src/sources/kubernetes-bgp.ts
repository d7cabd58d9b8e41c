// BGPPeer and BGPAdvertisement objects as the same BgpConfig the file's `bgp:` section gives.
// See docs/design/007-kubernetes-nodeport.md (BGP from CRDs) for which side wins what.
import type { BgpAdvertisementConfig, BgpConfig, BgpPeerConfig } from '../config/index.ts';
import type { KubeCustomObject, KubeNode, KubeSecret } from '../kube/index.ts';
import { formatIp, tryParseIp } from '../net/index.ts';
import { checkFields, FieldError, int, readSelected, strings, sub, type Spec } from './kube-fields.ts';

/** One object left out, or one field of it ignored: `BGPPeer core1` and what is wrong. */
export interface BgpProblem {
  readonly object: string;
  readonly message: string;
}

/** The file's settings when the agent has a file; they win over the CRDs where both speak. */
export type FileBgp = BgpConfig;

/** Password of a peer from its Secret (`namespace` is the agent's own), or why there is none. */
export type SecretLookup = (name: string, key: string) => { readonly value: string } | { readonly missing: string };

export interface ClusterBgpInput {
  readonly nodeName: string;
  /** This node's Node; undefined outside the cluster (then only selector-less objects apply). */
  readonly node: KubeNode | undefined;
  readonly peers: readonly KubeCustomObject[];
  readonly advertisements: readonly KubeCustomObject[];
  readonly secret: SecretLookup;
  readonly file?: FileBgp;
}

const DEFAULTS = { port: 179, holdTime: 90, gracefulRestartSeconds: 120, bfd: { minTxMs: 300, minRxMs: 300, multiplier: 3 } } as const;
const PEER_FIELDS = ['address', 'asn', 'localASN', 'port', 'localAddress', 'routerID', 'holdTimeSeconds', 'passive', 'families', 'gracefulRestartSeconds', 'passwordSecretRef', 'bfd', 'multihop', 'nextHop', 'nodeSelector'];
const ADVERTISEMENT_FIELDS = ['pools', 'peers', 'aggregationLength', 'aggregationLengthV6', 'aggregateToVipRoutes', 'communities', 'largeCommunities', 'localPref', 'med', 'nodeSelector'];

function address(spec: Spec, field: string, family?: 4 | 6): string | undefined {
  const v = spec[field];
  if (v === undefined || v === null) return undefined;
  const ip = typeof v === 'string' ? tryParseIp(v) : undefined;
  if (ip === undefined || (family !== undefined && ip.family !== family)) throw new FieldError(`spec.${field} is ${JSON.stringify(v)}; allowed: an ${family === undefined ? 'IP' : `IPv${family}`} address`);
  return formatIp(ip);
}

const asnRange = { min: 1, max: 4294967295, allowed: 'an AS number 1–4294967295 other than 23456 (AS_TRANS, RFC 6793)' } as const;
function asn(spec: Spec, field: string): number | undefined {
  const v = int(spec, field, asnRange.min, asnRange.max, asnRange.allowed);
  if (v === 23456) throw new FieldError(`spec.${field} is 23456; allowed: ${asnRange.allowed}`);
  return v;
}

interface ReadPeer {
  readonly name: string;
  readonly localASN: number;
  readonly routerID?: string;
  readonly gracefulRestartSeconds?: number;
  readonly peer: BgpPeerConfig;
}

function readPeer(name: string, spec: Spec, secret: SecretLookup): ReadPeer {
  checkFields(spec, PEER_FIELDS, 'BGPPeer');
  const peerAddress = address(spec, 'address');
  const peerAsn = asn(spec, 'asn');
  const localASN = asn(spec, 'localASN');
  if (peerAddress === undefined || peerAsn === undefined || localASN === undefined) {
    throw new FieldError(`spec.${peerAddress === undefined ? 'address' : peerAsn === undefined ? 'asn' : 'localASN'} is required`);
  }
  const family = peerAddress.includes(':') ? 6 : 4;
  const holdTime = int(spec, 'holdTimeSeconds', 0, 65535) ?? DEFAULTS.holdTime;
  // RFC 4271 §4.2: "the Hold Time MUST be either zero or at least three seconds".
  if (holdTime === 1 || holdTime === 2) throw new FieldError(`spec.holdTimeSeconds is ${holdTime}; allowed: 0, or 3–65535 (RFC 4271 §4.2)`);
  const families = strings(spec, 'families', /^ipv[46]$/, 'ipv4, ipv6') as ('ipv4' | 'ipv6')[];
  const multihop = int(spec, 'multihop', 2, 255);
  if (multihop !== undefined && peerAsn === localASN) throw new FieldError('spec.multihop applies to eBGP peers only (asn differs from localASN)');
  const bfdSpec = sub(spec, 'bfd');
  const bfdOn = bfdSpec?.['enabled'] === true;
  if (bfdOn && multihop !== undefined) throw new FieldError('spec.multihop cannot be combined with spec.bfd: vipgate runs single-hop BFD only');
  const bfd = bfdSpec === undefined || !bfdOn
    ? undefined
    : {
        minTxMs: int(bfdSpec, 'transmitIntervalMs', 10, 60000) ?? DEFAULTS.bfd.minTxMs,
        minRxMs: int(bfdSpec, 'receiveIntervalMs', 10, 60000) ?? DEFAULTS.bfd.minRxMs,
        multiplier: int(bfdSpec, 'detectMultiplier', 2, 255) ?? DEFAULTS.bfd.multiplier,
      };
  const localAddress = address(spec, 'localAddress', family);
  const nextHopSpec = sub(spec, 'nextHop');
  const nextHop = nextHopSpec === undefined ? undefined : { ipv4: address(nextHopSpec, 'ipv4', 4), ipv6: address(nextHopSpec, 'ipv6', 6) };
  const ref = sub(spec, 'passwordSecretRef');
  let password: string | undefined;
  if (ref !== undefined) {
    const secretName = ref['name'];
    if (typeof secretName !== 'string' || secretName === '') throw new FieldError('spec.passwordSecretRef.name is required');
    const key = typeof ref['key'] === 'string' ? ref['key'] : 'password';
    const found = secret(secretName, key);
    // Peering without the password the router expects would only fail there, less clearly.
    if ('missing' in found) throw new FieldError(`spec.passwordSecretRef: ${found.missing}`);
    if (found.value.length < 1 || found.value.length > 80) throw new FieldError(`spec.passwordSecretRef: the password in Secret ${secretName} key ${key} has ${found.value.length} characters; allowed: 1–80 (RFC 2385)`);
    password = found.value;
  }
  const routerID = address(spec, 'routerID', 4);
  const gracefulRestartSeconds = int(spec, 'gracefulRestartSeconds', 0, 4095);
  const peer: BgpPeerConfig = {
    name,
    address: peerAddress,
    asn: peerAsn,
    port: int(spec, 'port', 1, 65535) ?? DEFAULTS.port,
    ...(localAddress === undefined ? {} : { localAddress }),
    holdTime,
    passive: spec['passive'] === true,
    ...(password === undefined ? {} : { password }),
    families: families.length === 0 ? ['ipv4', 'ipv6'] : [...new Set(families)],
    ...(bfd === undefined ? {} : { bfd }),
    ...(multihop === undefined ? {} : { multihop }),
    ...(nextHop === undefined ? {} : { nextHop: { ...(nextHop.ipv4 === undefined ? {} : { ipv4: nextHop.ipv4 }), ...(nextHop.ipv6 === undefined ? {} : { ipv6: nextHop.ipv6 }) } }),
  };
  return { name, localASN, peer, ...(routerID === undefined ? {} : { routerID }), ...(gracefulRestartSeconds === undefined ? {} : { gracefulRestartSeconds }) };
}

const COMMUNITY = /^([0-9]{1,5}):([0-9]{1,5})$/;
const LARGE_COMMUNITY = /^[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}$/;

function readAdvertisement(spec: Spec): BgpAdvertisementConfig {
  checkFields(spec, ADVERTISEMENT_FIELDS, 'BGPAdvertisement');
  const communities = strings(spec, 'communities', COMMUNITY, 'communities "ASN:value", each part 0–65535 (RFC 1997)');
  if (communities.some((c) => c.split(':').some((p) => Number(p) > 65535))) throw new FieldError(`spec.communities is ${JSON.stringify(communities)}; allowed: each part 0–65535 (RFC 1997)`);
  const large = strings(spec, 'largeCommunities', LARGE_COMMUNITY, 'large communities "ASN:data1:data2" (RFC 8092)');
  if (large.some((c) => c.split(':').some((p) => Number(p) > 4294967295))) throw new FieldError(`spec.largeCommunities is ${JSON.stringify(large)}; allowed: each part 0–4294967295 (RFC 8092)`);
  const localPref = int(spec, 'localPref', 0, 4294967295);
  const med = int(spec, 'med', 0, 4294967295);
  return {
    pools: strings(spec, 'pools'),
    peers: strings(spec, 'peers'),
    aggregationLength: int(spec, 'aggregationLength', 0, 32) ?? 32,
    aggregationLengthV6: int(spec, 'aggregationLengthV6', 0, 128) ?? 128,
    aggregateToVipRoutes: spec['aggregateToVipRoutes'] === true,
    communities,
    largeCommunities: large,
    ...(localPref === undefined ? {} : { localPref }),
    ...(med === undefined ? {} : { med }),
  };
}

/**
 * This node's BGP settings from the cluster's BGPPeers and BGPAdvertisements (those whose
 * nodeSelector matches the Node's labels), merged with the file's `bgp:` when there is one:
 *
 * - routerId, localASN, gracefulRestartSeconds: the file's; without a file, the peers' own
 *   (`routerID`, `localASN`, the longest `gracefulRestartSeconds`), the first peer by name
 *   deciding, and the Node's IPv4 InternalIP as the router ID when no peer names one. One
 *   speaker has one AS: a peer asking for another localASN is left out, with a problem.
 * - peers: the file's and the CRDs'; a CRD peer at an address the file already peers with is
 *   left out (the file wins).
 * - advertisements: the CRDs' when any selects the node, else the file's. Without a file and
 *   without advertisements nothing is announced (as with MetalLB), and a problem says so.
 *
 * A bad object is left out with a problem naming it and its field; the others apply.
 * Undefined when there is neither a file `bgp:` nor a selected peer.
 */
export function bgpFromCluster(input: ClusterBgpInput): { bgp: BgpConfig | undefined; problems: BgpProblem[] } {
  const problems: BgpProblem[] = [];
  const labels = input.node?.metadata?.labels ?? {};
  const read = readSelected(input.peers, { kind: 'BGPPeer', noun: 'peer' }, labels, (name, spec) => readPeer(name, spec, input.secret), problems);
  const ads = readSelected(input.advertisements, { kind: 'BGPAdvertisement', noun: 'advertisement' }, labels, (_name, spec) => readAdvertisement(spec), problems);
  const file = input.file;
  if (file === undefined && read.length === 0) return { bgp: undefined, problems };

  const localASN = file?.localASN ?? read[0]!.localASN;
  const fileAddresses = new Set(file?.peers.map((p) => p.address) ?? []);
  const peers: BgpPeerConfig[] = [...(file?.peers ?? [])];
  const kept: ReadPeer[] = [];
  for (const r of read) {
    if (r.localASN !== localASN) {
      const by = file === undefined ? `BGPPeer ${read[0]!.name}` : 'the file';
      problems.push({ object: `BGPPeer ${r.name}`, message: `spec.localASN ${r.localASN} differs from ${localASN} (set by ${by}); one agent speaks for one AS; this peer is left out` });
    } else if (fileAddresses.has(r.peer.address)) {
      problems.push({ object: `BGPPeer ${r.name}`, message: `spec.address ${r.peer.address} is already a peer in the file, which wins; this peer is left out` });
    } else {
      kept.push(r);
      peers.push(r.peer);
    }
  }

  let routerId = file?.routerId ?? kept.find((r) => r.routerID !== undefined)?.routerID;
  if (routerId === undefined) {
    const own = input.node?.status?.addresses?.map((a) => (a.type === 'InternalIP' ? tryParseIp(a.address) : undefined)).find((ip) => ip?.family === 4);
    if (own === undefined) {
      problems.push({ object: `Node ${input.nodeName}`, message: 'no BGP router ID: no BGPPeer sets spec.routerID and the Node has no IPv4 InternalIP; BGP is off until one does' });
      return { bgp: undefined, problems };
    }
    routerId = formatIp(own);
  }
  for (const r of kept) {
    if (r.routerID !== undefined && r.routerID !== routerId) problems.push({ object: `BGPPeer ${r.name}`, message: `spec.routerID ${r.routerID} is ignored: this agent's router ID is ${routerId} (one per speaker, RFC 4271 §4.2)` });
  }
  const gracefulRestartSeconds = file?.gracefulRestartSeconds ?? Math.max(...kept.map((r) => r.gracefulRestartSeconds ?? DEFAULTS.gracefulRestartSeconds), 0);

  let advertisements: readonly BgpAdvertisementConfig[] = ads;
  if (ads.length === 0 && file !== undefined) advertisements = file.advertisements;
  if (advertisements.length === 0 && peers.length > 0) {
    problems.push({ object: `Node ${input.nodeName}`, message: 'no BGPAdvertisement selects this node: the sessions come up but no VIP is announced; create one (an empty spec announces every VIP to every peer)' });
  }
  return { bgp: { routerId, localASN, gracefulRestartSeconds, peers, advertisements }, problems };
}

/** Looks passwords up in the agent's Secrets (one namespace, as its Role allows). */
export function secretLookup(secrets: readonly KubeSecret[], namespace: string): SecretLookup {
  return (name, key) => {
    const secret = secrets.find((s) => s.metadata?.name === name);
    if (secret === undefined) return { missing: `Secret ${namespace}/${name} does not exist (the agent reads Secrets in ${namespace} only)` };
    const data = secret.data?.[key];
    if (data === undefined) return { missing: `Secret ${namespace}/${name} has no key ${key}; it has: ${Object.keys(secret.data ?? {}).join(', ') || 'none'}` };
    return { value: Buffer.from(data, 'base64').toString('utf8') };
  };
}
