// Parsers for what `ip -j` reports. Pure: they take the JSON text and return plain data, so the
// diff in plan.ts is tested without a kernel. Anything unexpected is a HostError, never a crash
// deep inside the diff.
import { formatCidr, formatIp, parseCidr, parseIp, type Family } from '../net/index.ts';
import { HostError, HostErrorCode } from './errors.ts';

export interface ObservedLink {
  readonly name: string;
  /** `linkinfo.info_kind` from `ip -d`: "dummy", "bridge", "veth"…; undefined for plain devices (lo). */
  readonly kind: string | undefined;
  /** The link's ifalias; vipgate marks its own link with it. */
  readonly alias: string | undefined;
  readonly up: boolean;
}

/** A route as the kernel lists it: canonical destination prefix and output device. */
export interface ObservedRoute {
  readonly dst: string;
  readonly dev: string | undefined;
}

type JsonObject = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseArray(text: string, what: string): readonly JsonObject[] {
  let value: unknown;
  try {
    value = JSON.parse(text.trim() === '' ? '[]' : text);
  } catch (cause) {
    throw new HostError(HostErrorCode.badKernelReply, `${what}: expected JSON from ip -j, got ${JSON.stringify(text.slice(0, 80))}`, { cause });
  }
  if (!Array.isArray(value) || !value.every(isObject)) {
    throw new HostError(HostErrorCode.badKernelReply, `${what}: expected a JSON array of objects from ip -j`);
  }
  return value;
}

function optionalString(object: JsonObject, key: string): string | undefined {
  const value = object[key];
  return typeof value === 'string' ? value : undefined;
}

/** Parses `ip -d -j link show dev NAME`; undefined when the list is empty. */
export function parseLinkShow(text: string): ObservedLink | undefined {
  const [first] = parseArray(text, 'ip link show');
  if (first === undefined) return undefined;
  const name = optionalString(first, 'ifname');
  if (name === undefined) throw new HostError(HostErrorCode.badKernelReply, 'ip link show: a link without "ifname"');
  const linkinfo = first['linkinfo'];
  const kind = isObject(linkinfo) ? optionalString(linkinfo, 'info_kind') : undefined;
  const flags = first['flags'];
  const up = Array.isArray(flags) && flags.includes('UP');
  return { name, kind, alias: optionalString(first, 'ifalias'), up };
}

/** Names of the links listed (for `ip -j link show master BRIDGE`: the bridge's ports). */
export function parseLinkNames(text: string): string[] {
  return parseArray(text, 'ip link show').flatMap((link) => {
    const name = optionalString(link, 'ifname');
    return name === undefined ? [] : [name];
  });
}

/**
 * Parses `ip -j addr show dev NAME` into canonical "address/prefixlen" strings. Link- and
 * host-scope addresses (fe80::, the kernel's own) are left out: they are not vipgate's to manage.
 */
export function parseAddresses(text: string): string[] {
  const out: string[] = [];
  for (const link of parseArray(text, 'ip addr show')) {
    const infos = link['addr_info'];
    if (!Array.isArray(infos)) continue;
    for (const info of infos) {
      if (!isObject(info)) continue;
      const local = optionalString(info, 'local');
      const prefixlen = info['prefixlen'];
      const scope = optionalString(info, 'scope');
      if (local === undefined || typeof prefixlen !== 'number') continue;
      if (scope === 'link' || scope === 'host') continue;
      out.push(`${formatIp(parseIp(local))}/${prefixlen}`);
    }
  }
  return out;
}

/** Parses `ip -j [-6] route show …`; "default" becomes 0.0.0.0/0 or ::/0. */
export function parseRoutes(text: string, family: Family): ObservedRoute[] {
  return parseArray(text, 'ip route show').flatMap((route) => {
    const dst = optionalString(route, 'dst');
    if (dst === undefined) return [];
    const cidr = dst === 'default' ? (family === 4 ? '0.0.0.0/0' : '::/0') : dst;
    return [{ dst: formatCidr(parseCidr(cidr, { allowHostBits: true })), dev: optionalString(route, 'dev') }];
  });
}
