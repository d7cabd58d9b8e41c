import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv';
import { ConfigIssueCode, showValue } from './errors.ts';
import { stringFormats, type StringFormatName } from './formats.ts';
import type { IssueDraft, PathSegment } from './issue.ts';
import type { RawConfig } from './raw.ts';

/**
 * JSON Schema (draft-07) of the standalone config file. Every mapping is closed
 * (`additionalProperties: false`) so a misspelt field is an error, not a silent default.
 * `x-allowed` is our own
 * annotation: the text after "expected" in an error about that field.
 */
const ALLOWED = 'x-allowed';

const port = { type: 'integer', minimum: 1, maximum: 65535, [ALLOWED]: 'an integer 1–65535' };

function format(name: StringFormatName): AnySchemaObject {
  return { type: 'string', format: name, [ALLOWED]: stringFormats[name].allowed };
}

function oneOf(...values: string[]): AnySchemaObject {
  return { type: 'string', enum: values, [ALLOWED]: `one of ${values.join(', ')}` };
}

function list(items: AnySchemaObject, allowed: string): AnySchemaObject {
  return { type: 'array', items, [ALLOWED]: `a list of ${allowed}` };
}

function mapping(properties: Record<string, AnySchemaObject>, required: string[] = []): AnySchemaObject {
  return { type: 'object', additionalProperties: false, properties, required };
}

function named(pattern: string, allowed: string): AnySchemaObject {
  return { type: 'string', pattern, [ALLOWED]: allowed };
}

// Kubernetes' own name rules, so a config can later become Kubernetes objects unchanged.
const dnsLabel = named('^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$', 'a DNS label: 1–63 of a-z, 0-9, "-", starting and ending alphanumeric');
const serviceName = named('^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$', 'a DNS-1035 label: 1–63 of a-z, 0-9, "-", starting with a letter');
const portName = named('^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$', 'a port name: 1–15 of a-z, 0-9, "-" (IANA service name)');
const nodeName = named('^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$', 'a DNS subdomain: up to 253 of a-z, 0-9, "-", "."');
const flag = { type: 'boolean', [ALLOWED]: 'true or false' };
const cidrs = list(format('cidr'), 'CIDRs');
const ips = list(format('ip'), 'IP addresses');

const pool = mapping(
  {
    name: dnsLabel,
    addresses: { ...list(format('pool-range'), 'CIDRs or ranges'), minItems: 1 },
    autoAssign: flag,
    avoidBuggyIPs: flag,
    allowExternalIPs: flag,
    namespaces: list(dnsLabel, 'namespaces'),
    reserved: ips,
    priority: { type: 'integer', minimum: -1000, maximum: 1000, [ALLOWED]: 'an integer -1000–1000' },
  },
  ['name', 'addresses'],
);

const servicePort = mapping(
  { name: portName, port, protocol: oneOf('TCP', 'UDP'), targetPort: port },
  ['port'],
);

const backend = mapping(
  {
    address: format('ip'),
    weight: { type: 'integer', minimum: 1, maximum: 65535, [ALLOWED]: 'an integer 1–65535' },
    state: oneOf('ready', 'terminating'),
    ports: { type: 'object', additionalProperties: port, [ALLOWED]: 'a mapping of port name to port number' },
  },
  ['address'],
);

const service = mapping(
  {
    name: serviceName,
    namespace: dnsLabel,
    type: oneOf('ClusterIP', 'LoadBalancer'),
    externalIPs: ips,
    loadBalancerIPs: ips,
    ipFamilyPolicy: oneOf('SingleStack', 'PreferDualStack', 'RequireDualStack'),
    ipFamilies: { ...list(oneOf('IPv4', 'IPv6'), 'IPv4, IPv6'), minItems: 1, maxItems: 2 },
    pool: dnsLabel,
    sharingKey: { type: 'string', minLength: 1, maxLength: 253, [ALLOWED]: 'a non-empty string' },
    ports: { ...list(servicePort, 'ports'), minItems: 1 },
    backends: list(backend, 'backends'),
    sessionAffinity: oneOf('None', 'ClientIP'),
    loadBalancerSourceRanges: cidrs,
    snat: oneOf('masquerade', 'none'),
  },
  ['name', 'ports'],
);

// RFC 6793: four-octet AS numbers; 0 and AS_TRANS (23456) are refused in semantic checks.
const asn = { type: 'integer', minimum: 1, maximum: 4294967295, [ALLOWED]: 'an AS number 1–4294967295' };
const community = named('^[0-9]{1,5}:[0-9]{1,5}$', 'a community "ASN:value", each part 0–65535 (RFC 1997)');
const largeCommunity = named('^[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}$', 'a large community "ASN:data1:data2" (RFC 8092)');
const uint32 = { type: 'integer', minimum: 0, maximum: 4294967295, [ALLOWED]: 'an integer 0–4294967295' };

// RFC 5880 carries intervals in microseconds in 32 bits; 10 ms is the floor a userspace agent
// on a shared CPU can keep.
const bfdInterval = { type: 'integer', minimum: 10, maximum: 60000, [ALLOWED]: 'milliseconds 10–60000' };
const bfdTimers = {
  minTxMs: bfdInterval,
  minRxMs: bfdInterval,
  multiplier: { type: 'integer', minimum: 1, maximum: 255, [ALLOWED]: 'an integer 1–255 (RFC 5880 Detect Mult)' },
};
const bfd = mapping({ enabled: flag, ...bfdTimers });

// A draining node's lower preference (docs/design/013-drain.md); `bgp.drain` adds its timers.
const drainPreference = {
  localPref: uint32,
  asPathPrepend: { type: 'integer', minimum: 0, maximum: 10, [ALLOWED]: 'extra copies of our AS 0–10' },
  med: uint32,
};

const bgpPeer = mapping(
  {
    name: dnsLabel,
    address: format('ip'),
    asn,
    port,
    localAddress: format('ip'),
    holdTime: { type: 'integer', minimum: 0, maximum: 65535, [ALLOWED]: 'seconds: 0, or 3–65535 (RFC 4271 §4.2)' },
    passive: flag,
    password: { type: 'string', minLength: 1, maxLength: 80, [ALLOWED]: 'a TCP MD5 key of 1–80 characters (RFC 2385)' },
    families: { ...list(oneOf('ipv4', 'ipv6'), 'ipv4, ipv6'), minItems: 1, maxItems: 2 },
    bfd,
    multihop: { type: 'integer', minimum: 2, maximum: 255, [ALLOWED]: 'an IP TTL 2–255 (eBGP only; 1 is the default without it)' },
    nextHop: mapping({ ipv4: format('ip'), ipv6: format('ip') }),
    drain: mapping(drainPreference),
  },
  ['address', 'asn'],
);

// The BGPAdvertisement CRD's spec (src/manifests/crds-bgp.ts), minus its nodeSelector.
const bgpAdvertisement = mapping({
  pools: list(dnsLabel, 'pool names'),
  peers: list({ type: 'string', minLength: 1, [ALLOWED]: 'a peer name or address' }, 'peer names or addresses'),
  aggregationLength: { type: 'integer', minimum: 0, maximum: 32, [ALLOWED]: 'an IPv4 prefix length 0–32' },
  aggregationLengthV6: { type: 'integer', minimum: 0, maximum: 128, [ALLOWED]: 'an IPv6 prefix length 0–128' },
  aggregateToVipRoutes: flag,
  communities: list(community, 'communities'),
  largeCommunities: list(largeCommunity, 'large communities'),
  localPref: uint32,
  med: uint32,
});

const bgp = mapping(
  {
    routerId: format('ip'),
    localASN: asn,
    gracefulRestartSeconds: { type: 'integer', minimum: 0, maximum: 4095, [ALLOWED]: 'seconds 0–4095 (RFC 4724; 0 turns it off)' },
    peers: list(bgpPeer, 'peers'),
    advertise: mapping({
      aggregate: flag,
      communities: list(community, 'communities'),
      largeCommunities: list(largeCommunity, 'large communities'),
      localPref: uint32,
      med: uint32,
    }),
    advertisements: list(bgpAdvertisement, 'advertisements'),
    drain: mapping({
      ...drainPreference,
      timeoutSeconds: { type: 'integer', minimum: 1, maximum: 3600, [ALLOWED]: 'seconds 1–3600' },
      quietSeconds: { type: 'integer', minimum: 1, maximum: 600, [ALLOWED]: 'seconds 1–600' },
    }),
  },
  ['routerId', 'localASN'],
);

// L2 mode (docs/design/017-l2-mode.md). A peer gives `address` or `addresses` (semantic-l2.ts
// says which when neither or both are there: a schema oneOf would report both branches' errors).
const l2Advertisement = mapping(
  {
    pools: list(dnsLabel, 'pool names'),
    interfaces: { ...list(format('ifname'), 'interface names'), minItems: 1, [ALLOWED]: 'a non-empty list of interface names' },
  },
  ['interfaces'],
);

const l2Peer = mapping(
  {
    name: nodeName,
    address: format('ip'),
    addresses: { ...ips, minItems: 1, maxItems: 2, [ALLOWED]: 'a list of 1–2 IP addresses, one per family' },
  },
  ['name'],
);

const l2 = mapping(
  {
    advertisements: { ...list(l2Advertisement, 'advertisements'), minItems: 1, [ALLOWED]: 'a non-empty list of advertisements (pools and interfaces)' },
    peers: list(l2Peer, 'peers'),
    announce: mapping({
      count: { type: 'integer', minimum: 1, maximum: 10, [ALLOWED]: 'an integer 1–10' },
      intervalMs: { type: 'integer', minimum: 10, maximum: 10000, [ALLOWED]: 'milliseconds 10–10000' },
      periodicSeconds: { type: 'integer', minimum: 0, maximum: 3600, [ALLOWED]: 'seconds: 0 (never), or 1–3600' },
    }),
    failbackHoldDownSeconds: { type: 'integer', minimum: 0, maximum: 3600, [ALLOWED]: 'seconds 0–3600 (0 moves back at once)' },
    bfd: mapping(bfdTimers),
  },
  ['advertisements'],
);

export const configSchema: AnySchemaObject = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  ...mapping(
    {
      apiVersion: { const: 'vipgate.io/v1alpha1', [ALLOWED]: 'vipgate.io/v1alpha1' },
      kind: { const: 'AgentConfig', [ALLOWED]: 'AgentConfig' },
      nodeName,
      api: mapping({ listen: format('listen') }),
      vipInterface: mapping({
        name: format('ifname'),
        addresses: list(format('interface-address'), 'addresses with subnet length'),
        routes: cidrs,
      }),
      dataplane: mapping({
        engine: oneOf('nftables', 'xdp', 'userspace'),
        snat: oneOf('masquerade', 'none'),
        denySources: cidrs,
        resyncSeconds: { type: 'integer', minimum: 1, maximum: 86400, [ALLOWED]: 'an integer 1–86400' },
        xdp: mapping(
          {
            interfaces: { ...list(format('ifname'), 'interface names'), minItems: 1 },
            mode: oneOf('auto', 'native', 'generic'),
            forwarding: oneOf('nat', 'dsr-l2', 'ipip', 'gue'),
            pinDir: { type: 'string', pattern: '^/', [ALLOWED]: 'an absolute path on a bpf filesystem' },
            snatAddresses: { ...ips, maxItems: 2 },
            // 1280 (IPv6's minimum link MTU) + 48 (IPv6 + UDP outer header): docs/design/006.
            mtu: { type: 'integer', minimum: 1328, maximum: 65535, [ALLOWED]: 'an integer 1328–65535 (IPv6 needs 1280 after the 48-byte outer header)' },
            guePort: port,
          },
          ['interfaces'],
        ),
      }),
      pools: list(pool, 'pools'),
      services: list(service, 'services'),
      bgp,
      l2,
      kubernetes: mapping({ backends: oneOf('pods', 'nodePort') }),
    },
    ['apiVersion', 'kind'],
  ),
};

let compiled: ValidateFunction<RawConfig> | undefined;

/**
 * The compiled validator; built once, on first use. The schema is not checked against the
 * draft-07 meta-schema here: that check was half of the ~0.3 s compile on every start and every
 * `check-config`, and a unit test does it instead (schema.test.ts).
 */
export function configValidator(): ValidateFunction<RawConfig> {
  if (compiled !== undefined) return compiled;
  compiled = configAjv({ validateSchema: false }).compile<RawConfig>(configSchema);
  return compiled;
}

/** The Ajv instance the config is validated with: our `x-allowed` keyword and string formats. */
export function configAjv(options: { readonly validateSchema: boolean }): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, validateSchema: options.validateSchema });
  ajv.addKeyword({ keyword: ALLOWED, schemaType: 'string' });
  for (const [name, def] of Object.entries(stringFormats)) {
    ajv.addFormat(name, { type: 'string', validate: (text: string) => def.check(text) === undefined });
  }
  return ajv;
}

/** Turns ajv's errors into issues: one per field, worded for the person editing the file. */
export function schemaIssues(errors: readonly ErrorObject[]): IssueDraft[] {
  const seen = new Set<string>();
  const out: IssueDraft[] = [];
  for (const err of errors) {
    const draft = toDraft(err);
    // Several keywords can fail on one value (pattern and length); one message per field is enough.
    const key = draft.path.join('.');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(draft);
  }
  return out;
}

function parsePointer(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

function allowedOf(schema: unknown): string {
  if (typeof schema !== 'object' || schema === null) return '';
  const text = (schema as Record<string, unknown>)[ALLOWED];
  if (typeof text === 'string') return text;
  const type = (schema as Record<string, unknown>)['type'];
  return type === 'object' ? 'a mapping' : type === 'array' ? 'a list' : '';
}

function toDraft(err: ErrorObject): IssueDraft {
  const path = parsePointer(err.instancePath);
  const parent = err.parentSchema;
  const params = err.params as Record<string, unknown>;
  if (err.keyword === 'additionalProperties') {
    const field = String(params['additionalProperty']);
    const known = Object.keys((parent?.['properties'] as Record<string, unknown> | undefined) ?? {});
    const guess = closest(field, known);
    return {
      code: ConfigIssueCode.unknownField,
      path: [...path, field],
      at: 'key',
      value: field,
      message: 'unknown field',
      allowed: `one of the fields ${known.join(', ')}`,
      ...(guess === undefined ? {} : { hint: `did you mean \`${guess}\`?` }),
    };
  }
  if (err.keyword === 'required') {
    const field = String(params['missingProperty']);
    const fieldSchema = (parent?.['properties'] as Record<string, unknown> | undefined)?.[field];
    return {
      code: ConfigIssueCode.missingField,
      path: [...path, field],
      at: 'parent',
      value: undefined,
      message: 'required field is missing',
      allowed: allowedOf(fieldSchema),
    };
  }
  const allowed = allowedOf(parent);
  if (err.keyword === 'format') {
    const name = String(params['format']) as StringFormatName;
    const reason = typeof err.data === 'string' ? stringFormats[name].check(err.data) : undefined;
    return {
      code: ConfigIssueCode.badValue,
      path,
      at: 'value',
      value: err.data,
      message: reason ?? `${showValue(err.data)} is not allowed`,
      allowed,
    };
  }
  return {
    code: err.keyword === 'type' ? ConfigIssueCode.wrongType : ConfigIssueCode.badValue,
    path,
    at: 'value',
    value: err.data,
    message: describe(err),
    allowed,
  };
}

function describe(err: ErrorObject): string {
  const shown = showValue(err.data);
  switch (err.keyword) {
    case 'minItems':
      return Array.isArray(err.data) && err.data.length === 0 ? 'an empty list is not allowed' : `${shown} is too short`;
    case 'maxItems':
      return `a list of ${Array.isArray(err.data) ? err.data.length : '?'} is too long`;
    default:
      return `${shown} is not allowed`;
  }
}

/** The known name a typo most likely meant: same letters ignoring case, or within a small edit distance. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = candidate.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost));
    }
    previous = row;
  }
  return previous[b.length]!;
}
