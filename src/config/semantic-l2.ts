import { ConfigIssueCode } from './errors.ts';
import { formatPath, type IssueDraft, type PathSegment } from './issue.ts';
import { checkPoolReferences, duplicate, records, str, strings, tryCanonical, type Rec } from './raw-access.ts';

/**
 * Rules of the `l2:` section that a JSON Schema can't say: advertisements name pools that exist,
 * each peer gives `address` or `addresses` (one per family), and peer names and addresses are
 * unique. A peer named like this node stays in the list here (the same section is copied to
 * every node); the defaults drop it. Raw data is read defensively, as in semantic.ts.
 *
 * `pools` is the file's `pools:` as written; undefined when the file has none (Kubernetes mode:
 * pool names can't be checked here).
 */
export function checkL2(l2: Rec | undefined, pools: unknown, out: IssueDraft[]): void {
  if (l2 === undefined) return;
  const poolNames = pools === undefined ? undefined : new Set(records(pools).flatMap(([, pool]) => str(pool['name']) ?? []));
  for (const [i, adv] of records(l2['advertisements'])) {
    checkPoolReferences(adv['pools'], ['l2', 'advertisements', i, 'pools'], poolNames, out);
  }
  checkL2Peers(l2['peers'], out);
}

function checkL2Peers(peers: unknown, out: IssueDraft[]): void {
  const names = new Map<string, number>(); // peer name → index of its first peer
  const addresses = new Map<string, string>(); // canonical address → the field of its first use
  for (const [i, peer] of records(peers)) {
    const at = (...rest: PathSegment[]): PathSegment[] => ['l2', 'peers', i, ...rest];
    const name = str(peer['name']);
    if (name !== undefined) {
      const first = names.get(name);
      if (first === undefined) names.set(name, i);
      else out.push(duplicate(at('name'), name, `peer name "${name}"`, `l2.peers[${first}].name`));
    }
    for (const [path, text, canonical] of peerAddresses(peer, at, out)) {
      const first = addresses.get(canonical);
      if (first === undefined) addresses.set(canonical, formatPath(path));
      else out.push(duplicate(path, text, `peer address ${canonical}`, first));
    }
  }
}

/**
 * The peer's addresses as [field, text, canonical text]. Reports a peer with neither `address`
 * nor `addresses`, or with both, and a second address of one family: BFD runs to one address of
 * the peer per family, the one on the L2 segment.
 */
function peerAddresses(peer: Rec, at: (...rest: PathSegment[]) => PathSegment[], out: IssueDraft[]): [PathSegment[], string, string][] {
  const hasOne = peer['address'] !== undefined;
  const hasList = peer['addresses'] !== undefined;
  if (!hasOne && !hasList) {
    out.push({
      code: ConfigIssueCode.missingField,
      path: at('address'),
      at: 'parent',
      value: undefined,
      message: 'required field is missing: a peer needs its address on the L2 segment',
      allowed: 'address: 192.168.1.12, or addresses: [192.168.1.12, "fd00:1::12"] (one per family)',
    });
    return [];
  }
  if (hasOne && hasList) {
    out.push({
      code: ConfigIssueCode.conflict,
      path: at('addresses'),
      at: 'key',
      value: peer['addresses'],
      message: 'address and addresses are both set',
      allowed: 'one of them: address (one address) or addresses (one per family)',
    });
  }
  const given: [PathSegment[], string][] = hasList
    ? strings(peer['addresses']).map(([j, text]) => [at('addresses', j), text])
    : typeof peer['address'] === 'string' ? [[at('address'), peer['address']]] : [];
  const firstOfFamily = new Map<boolean, string>(); // is IPv6 → the field of its first address
  const found: [PathSegment[], string, string][] = [];
  for (const [path, text] of given) {
    const canonical = tryCanonical(text);
    if (canonical === undefined) continue; // the schema said why
    const v6 = canonical.includes(':');
    const first = firstOfFamily.get(v6);
    if (first !== undefined) {
      out.push({
        code: ConfigIssueCode.duplicate,
        path,
        at: 'value',
        value: text,
        message: `${canonical} is this peer's second IPv${v6 ? 6 : 4} address (the first is ${first})`,
        allowed: 'one address per family: the peer\'s address on the L2 segment, where BFD reaches it',
      });
      continue;
    }
    firstOfFamily.set(v6, formatPath(path));
    found.push([path, text, canonical]);
  }
  return found;
}
