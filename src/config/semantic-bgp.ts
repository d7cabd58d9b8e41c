import { parseCidr, parseRange, rangeToCidrs, type IpRange } from '../net/index.ts';
import { ConfigIssueCode } from './errors.ts';
import type { IssueDraft, PathSegment } from './issue.ts';
import { asRecord, checkPoolReferences, duplicate, records, str, strings, tryCanonical, type Rec } from './raw-access.ts';

/**
 * Rules of the `bgp:` section that a JSON Schema can't say: router ID is IPv4 (RFC 4271 §4.2),
 * hold time is never 1 or 2, peers are unique, no AS_TRANS, multihop only where it means
 * something, and advertisements refer to pools and peers that exist. Like semantic.ts, it reads
 * raw data defensively: values of the wrong type were already reported by the schema.
 *
 * `pools` is the file's `pools:` as written; undefined when the file has none (Kubernetes mode
 * takes the pools from the cluster, so names can't be checked here; an unknown one then matches
 * no VIP).
 */
export function checkBgp(bgp: Rec | undefined, pools: unknown, out: IssueDraft[]): void {
  if (bgp === undefined) return;
  const poolRanges = pools === undefined ? undefined : rangesByPool(pools);
  const bad = (path: PathSegment[], value: unknown, message: string, allowed: string, code: ConfigIssueCode = ConfigIssueCode.badValue): void => {
    out.push({ code, path, at: 'value', value, message, allowed });
  };
  const routerId = str(bgp['routerId']);
  if (routerId !== undefined && tryCanonical(routerId) !== undefined && routerId.includes(':')) {
    bad(['bgp', 'routerId'], routerId, `${routerId} is not allowed`, 'an IPv4 address (a BGP Identifier is 32 bits, RFC 4271 §4.2)');
  }
  const checkAsn = (path: PathSegment[], value: unknown): void => {
    if (value === 23456) bad(path, value, '23456 is not allowed', 'a real AS number: 23456 is AS_TRANS (RFC 6793)');
  };
  const localAsn = bgp['localASN'];
  checkAsn(['bgp', 'localASN'], localAsn);
  const addresses = new Map<string, number>(); // canonical peer address → index of its first peer
  const names = new Map<string, number>(); // peer name → index
  for (const [i, peer] of records(bgp['peers'])) {
    const at = (...rest: PathSegment[]): PathSegment[] => ['bgp', 'peers', i, ...rest];
    checkAsn(at('asn'), peer['asn']);
    const hold = peer['holdTime'];
    if (hold === 1 || hold === 2) bad(at('holdTime'), hold, `${hold} is not allowed`, 'seconds: 0, or 3–65535 (RFC 4271 §4.2)');
    const multihop = peer['multihop'];
    if (typeof multihop === 'number') {
      if (peer['asn'] === localAsn) {
        bad(at('multihop'), multihop, 'multihop applies to eBGP peers only', 'no multihop for an iBGP peer (asn equal to localASN): iBGP is reached over any number of hops', ConfigIssueCode.conflict);
      }
      const bfd = asRecord(peer['bfd']);
      if (bfd !== undefined && bfd['enabled'] !== false) {
        bad(at('multihop'), multihop, 'multihop cannot be combined with bfd', 'either multihop or bfd: vipgate runs single-hop BFD only (RFC 5881 needs TTL 255 on arrival)', ConfigIssueCode.conflict);
      }
    }
    const nextHop = asRecord(peer['nextHop']);
    for (const family of ['ipv4', 'ipv6'] as const) {
      const text = str(nextHop?.[family]);
      const canonical = text === undefined ? undefined : tryCanonical(text);
      if (canonical !== undefined && canonical.includes(':') !== (family === 'ipv6')) {
        bad(at('nextHop', family), text, `${text} is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`, `an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`);
      }
    }
    const name = str(peer['name']);
    if (name !== undefined) {
      const first = names.get(name);
      if (first === undefined) names.set(name, i);
      else out.push(duplicate(at('name'), name, 'peer name', `bgp.peers[${first}].name`));
    }
    const address = str(peer['address']);
    const canonical = address === undefined ? undefined : tryCanonical(address);
    if (canonical === undefined) continue;
    const first = addresses.get(canonical);
    if (first === undefined) addresses.set(canonical, i);
    else out.push(duplicate(at('address'), address, 'peer address', `bgp.peers[${first}].address`));
  }
  if (bgp['advertise'] !== undefined && bgp['advertisements'] !== undefined) {
    bad(['bgp', 'advertisements'], bgp['advertisements'], 'bgp.advertise and bgp.advertisements are both set', 'one of them: advertisements (per pool and peer), or the older advertise (one block for every peer)', ConfigIssueCode.conflict);
  }
  const peerWords = [...names.keys(), ...addresses.keys()];
  const poolNames = poolRanges === undefined ? undefined : new Set(poolRanges.keys());
  for (const [i, adv] of records(bgp['advertisements'])) {
    checkPoolReferences(adv['pools'], ['bgp', 'advertisements', i, 'pools'], poolNames, out);
    if (poolRanges !== undefined) checkAggregation(adv, i, poolRanges, out);
    for (const [j, peer] of strings(adv['peers'])) {
      if (names.has(peer) || addresses.has(tryCanonical(peer) ?? '')) continue;
      bad(['bgp', 'advertisements', i, 'peers', j], peer, `no peer is named or addressed "${peer}"`, `a name or address from bgp.peers: ${peerWords.join(', ') || '(none)'}`, ConfigIssueCode.badReference);
    }
  }
}

/** Pool name → its address ranges, from the raw `pools:` (entries the schema refused are skipped). */
function rangesByPool(pools: unknown): Map<string, IpRange[]> {
  const out = new Map<string, IpRange[]>();
  for (const [, pool] of records(pools)) {
    const name = str(pool['name']);
    if (name === undefined) continue;
    const ranges: IpRange[] = [];
    for (const [, text] of strings(pool['addresses'])) {
      try {
        ranges.push(parseRange(text));
      } catch {
        /* reported by the schema */
      }
    }
    out.set(name, ranges);
  }
  return out;
}

/**
 * As MetalLB: an aggregate may not be wider than any of the pool's blocks (as CIDRs), or the
 * router would be told this node serves addresses outside the pool (10.200.0.0/24 announced as
 * a /16, or 10.200.1.10-10.200.1.20 as 10.200.1.0/24).
 */
function checkAggregation(adv: Rec, i: number, poolRanges: ReadonlyMap<string, IpRange[]>, out: IssueDraft[]): void {
  const selected = strings(adv['pools']).map(([, name]) => name);
  const names = selected.length > 0 ? selected : [...poolRanges.keys()];
  for (const [field, family] of [['aggregationLength', 4], ['aggregationLengthV6', 6]] as const) {
    const length = adv[field];
    if (typeof length !== 'number') continue;
    // One issue per field is enough to say what is wrong.
    pools: for (const name of names) {
      for (const range of poolRanges.get(name) ?? []) {
        if (range.family !== family) continue;
        // The most specific block decides: an aggregate of that length covers nothing outside it.
        const blocks = rangeToCidrs(range).map((c) => ({ text: c, length: parseCidr(c).prefixLength }));
        const narrowest = blocks.reduce((a, b) => (b.length > a.length ? b : a));
        if (narrowest.length <= length) continue;
        out.push({
          code: ConfigIssueCode.conflict,
          path: ['bgp', 'advertisements', i, field],
          at: 'value',
          value: length,
          message: `${length} would announce more than pool "${name}" holds: its block ${narrowest.text} is a /${narrowest.length}`,
          allowed: `a length of ${narrowest.length} or more (each VIP: ${family === 4 ? 32 : 128})`,
        });
        break pools;
      }
    }
  }
}
