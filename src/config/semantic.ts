import { formatRange, parseIp, parseRange, rangeContains, rangesOverlap, type IpRange } from '../net/index.ts';
import { ConfigIssueCode } from './errors.ts';
import type { IssueDraft, PathSegment } from './issue.ts';
import { asRecord, duplicate, records, str, strings, tryCanonical, type Rec } from './raw-access.ts';
import { familiesOf, familyName, policyOf } from './families.ts';
import { checkBgp } from './semantic-bgp.ts';
import { checkL2 } from './semantic-l2.ts';

/**
 * Rules across fields that a JSON Schema can't say (unique names, references, families that
 * agree). They read the raw data defensively, so they run even when the schema found problems
 * elsewhere and the user sees every issue in one pass; a value of the wrong type is skipped
 * here because the schema already reported it.
 */
export function semanticIssues(data: unknown): IssueDraft[] {
  const out: IssueDraft[] = [];
  const root = asRecord(data);
  if (root === undefined) return out;
  const poolNames = checkPools(root['pools'], out);
  checkServices(root['services'], poolNames, out);
  checkBgp(asRecord(root['bgp']), root['pools'], out);
  checkL2(asRecord(root['l2']), root['pools'], out);
  checkXdp(asRecord(root['dataplane']), out);
  return out;
}

/** The XDP engine needs to know where to attach; SNAT addresses are one per family (and ipip/gue need one). */
function checkXdp(dataplane: Rec | undefined, out: IssueDraft[]): void {
  if (dataplane === undefined) return;
  const xdp = asRecord(dataplane['xdp']);
  if (dataplane['engine'] === 'xdp' && xdp === undefined) {
    out.push({
      code: ConfigIssueCode.missingField,
      path: ['dataplane', 'xdp'],
      at: 'parent',
      value: undefined,
      message: 'engine xdp needs to know where to attach',
      allowed: 'a mapping with at least `interfaces` (e.g. xdp: { interfaces: [eth0] })',
    });
  }
  if (xdp === undefined) return;
  const families = new Map<boolean, number>();
  for (const [i, text] of strings(xdp['snatAddresses'])) {
    const canonical = tryCanonical(text);
    if (canonical === undefined) continue;
    const v6 = canonical.includes(':');
    const first = families.get(v6);
    if (first === undefined) families.set(v6, i);
    else out.push(duplicate(['dataplane', 'xdp', 'snatAddresses', i], text, `IPv${v6 ? 6 : 4} SNAT address`, `dataplane.xdp.snatAddresses[${first}]`));
  }
  // ipip/gue send from this node's address: without one, every VIP packet would be dropped.
  const forwarding = xdp['forwarding'];
  if ((forwarding === 'ipip' || forwarding === 'gue') && families.size === 0) {
    out.push({
      code: ConfigIssueCode.missingField,
      path: ['dataplane', 'xdp', 'snatAddresses'],
      at: 'parent',
      value: undefined,
      message: `forwarding ${forwarding} needs this node's address toward the backends (the outer source address)`,
      allowed: 'one address per family the VIPs use, e.g. snatAddresses: [10.180.1.16]',
    });
  }
}

function tryRange(text: string): IpRange | undefined {
  try {
    return parseRange(text);
  } catch {
    return undefined;
  }
}

function checkPools(pools: unknown, out: IssueDraft[]): Set<string> {
  const names = new Map<string, number>();
  const seenRanges: { range: IpRange; path: string }[] = [];
  for (const [i, pool] of records(pools)) {
    const name = str(pool['name']);
    if (name !== undefined) {
      const first = names.get(name);
      if (first !== undefined) out.push(duplicate(['pools', i, 'name'], name, `pool name "${name}"`, `pools[${first}]`));
      else names.set(name, i);
    }
    const own: IpRange[] = [];
    for (const [j, text] of strings(pool['addresses'])) {
      const range = tryRange(text);
      if (range === undefined) continue;
      // Overlapping pools would let two pools hand out one address: which pool owns it is ambiguous.
      const clash = seenRanges.find((r) => rangesOverlap(r.range, range));
      if (clash !== undefined) {
        out.push({
          code: ConfigIssueCode.conflict,
          path: ['pools', i, 'addresses', j],
          at: 'value',
          value: text,
          message: `"${text}" overlaps ${formatRange(clash.range)} at ${clash.path}`,
          allowed: 'address blocks that no other pool entry covers',
        });
      }
      seenRanges.push({ range, path: `pools[${i}].addresses[${j}]` });
      own.push(range);
    }
    for (const [j, text] of strings(pool['reserved'])) {
      const address = tryCanonical(text);
      if (address === undefined || own.length === 0) continue;
      const ip = parseIp(address);
      if (!own.some((r) => rangeContains(r, ip))) {
        out.push({
          code: ConfigIssueCode.conflict,
          path: ['pools', i, 'reserved', j],
          at: 'value',
          value: text,
          message: `${address} is not in this pool's addresses, so reserving it does nothing`,
          allowed: 'an address inside the pool',
        });
      }
    }
  }
  return new Set(names.keys());
}

function checkServices(services: unknown, poolNames: ReadonlySet<string>, out: IssueDraft[]): void {
  const keys = new Map<string, number>();
  for (const [i, svc] of records(services)) {
    const at = (...rest: PathSegment[]): PathSegment[] => ['services', i, ...rest];
    const name = str(svc['name']);
    const namespace = str(svc['namespace']) ?? 'default';
    if (name !== undefined) {
      const key = `${namespace}/${name}`;
      const first = keys.get(key);
      if (first !== undefined) out.push(duplicate(at('name'), name, `service "${key}"`, `services[${first}]`));
      else keys.set(key, i);
    }
    const portNames = checkPorts(svc['ports'], at, out);
    checkBackends(svc['backends'], portNames, at, out);
    checkFamilies(svc, at, out);
    const isLoadBalancer = svc['type'] === 'LoadBalancer';
    for (const field of ['loadBalancerIPs', 'pool', 'sharingKey']) {
      const value = svc[field];
      if (isLoadBalancer || value === undefined || (Array.isArray(value) && value.length === 0)) continue;
      out.push({
        code: ConfigIssueCode.conflict,
        path: at(field),
        at: 'key',
        value,
        message: `${field} only applies to type LoadBalancer, and this service is ${str(svc['type']) ?? 'ClusterIP'}`,
        allowed: 'type: LoadBalancer, or no ' + field,
      });
    }
    const pool = str(svc['pool']);
    if (pool !== undefined && !poolNames.has(pool)) {
      out.push({
        code: ConfigIssueCode.badReference,
        path: at('pool'),
        at: 'value',
        value: pool,
        message: `there is no pool "${pool}"`,
        allowed: poolNames.size === 0 ? 'a pool defined under pools' : `one of ${[...poolNames].join(', ')}`,
      });
    }
    checkUnique(svc['externalIPs'], at('externalIPs'), 'address', out);
  }
}

function checkUnique(list: unknown, path: PathSegment[], what: string, out: IssueDraft[]): void {
  const seen = new Map<string, number>();
  for (const [j, text] of strings(list)) {
    const address = tryCanonical(text);
    if (address === undefined) continue;
    const first = seen.get(address);
    if (first !== undefined) out.push(duplicate([...path, j], text, `${what} ${address}`, `${String(path.at(-1))}[${first}]`));
    else seen.set(address, j);
  }
}

function checkPorts(ports: unknown, at: (...rest: PathSegment[]) => PathSegment[], out: IssueDraft[]): Set<string> {
  const names = new Map<string, number>();
  const frontends = new Map<string, number>();
  const list = records(ports);
  for (const [j, port] of list) {
    const name = str(port['name']);
    if (name === undefined && list.length > 1) {
      out.push({
        code: ConfigIssueCode.missingField,
        path: at('ports', j, 'name'),
        at: 'parent',
        value: undefined,
        message: 'required field is missing: a service with several ports must name each',
        allowed: 'a port name: 1–15 of a-z, 0-9, "-" (IANA service name)',
      });
    }
    if (name !== undefined) {
      const first = names.get(name);
      if (first !== undefined) out.push(duplicate(at('ports', j, 'name'), name, `port name "${name}"`, `ports[${first}]`));
      else names.set(name, j);
    }
    if (typeof port['port'] === 'number') {
      const protocol = str(port['protocol']) ?? 'TCP';
      const key = `${port['port']}/${protocol}`;
      const first = frontends.get(key);
      if (first !== undefined) out.push(duplicate(at('ports', j, 'port'), port['port'], `port ${key}`, `ports[${first}]`));
      else frontends.set(key, j);
    }
  }
  return new Set(names.keys());
}

function checkBackends(
  backends: unknown,
  portNames: ReadonlySet<string>,
  at: (...rest: PathSegment[]) => PathSegment[],
  out: IssueDraft[],
): void {
  const seen = new Map<string, number>();
  for (const [k, backend] of records(backends)) {
    const text = str(backend['address']);
    const address = text === undefined ? undefined : tryCanonical(text);
    if (address !== undefined) {
      const first = seen.get(address);
      if (first !== undefined) out.push(duplicate(at('backends', k, 'address'), text, `backend ${address}`, `backends[${first}]`));
      else seen.set(address, k);
    }
    const overrides = asRecord(backend['ports']);
    for (const portName of Object.keys(overrides ?? {})) {
      if (portNames.has(portName)) continue;
      out.push({
        code: ConfigIssueCode.badReference,
        path: at('backends', k, 'ports', portName),
        at: 'key',
        value: portName,
        message: `the service has no port named "${portName}"`,
        allowed: portNames.size === 0 ? 'a name given under ports[].name' : `one of ${[...portNames].join(', ')}`,
      });
    }
  }
}

function checkFamilies(svc: Rec, at: (...rest: PathSegment[]) => PathSegment[], out: IssueDraft[]): void {
  const families = Array.isArray(svc['ipFamilies']) ? strings(svc['ipFamilies']).map(([, f]) => f) : undefined;
  if (families !== undefined && new Set(families).size !== families.length) {
    out.push({
      code: ConfigIssueCode.duplicate,
      path: at('ipFamilies'),
      at: 'value',
      value: families,
      message: `[${families.join(', ')}] names a family twice`,
      allowed: '[IPv4], [IPv6], [IPv4, IPv6] or [IPv6, IPv4]',
    });
    return;
  }
  const policy = str(svc['ipFamilyPolicy']);
  const effectivePolicy = policyOf(policy, families);
  const count = families?.length;
  if (count !== undefined && ((effectivePolicy === 'SingleStack' && count !== 1) || (effectivePolicy === 'RequireDualStack' && count !== 2))) {
    out.push({
      code: ConfigIssueCode.conflict,
      path: at('ipFamilies'),
      at: 'value',
      value: families,
      message: `[${families?.join(', ')}] does not fit ipFamilyPolicy ${effectivePolicy}`,
      allowed: effectivePolicy === 'SingleStack' ? 'one family with SingleStack' : 'two families with RequireDualStack',
    });
    return;
  }
  const effective = familiesOf(effectivePolicy, families);
  const byFamily = new Map<string, number>();
  for (const [j, text] of strings(svc['loadBalancerIPs'])) {
    const address = tryCanonical(text);
    if (address === undefined) continue;
    const family = familyName(parseIp(address).family);
    if (!effective.includes(family)) {
      out.push({
        code: ConfigIssueCode.conflict,
        path: at('loadBalancerIPs', j),
        at: 'value',
        value: text,
        message: `${address} is ${family}, and the service's ipFamilies are [${effective.join(', ')}]`,
        allowed: `an address of ${effective.join(' or ')}`,
      });
    } else if (byFamily.has(family)) {
      out.push(duplicate(at('loadBalancerIPs', j), text, `a second ${family} address`, `loadBalancerIPs[${byFamily.get(family)}]`));
    } else {
      byFamily.set(family, j);
    }
  }
}
