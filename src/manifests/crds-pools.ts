import type { ICustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { crd } from './crd.ts';
import { bool, conditions, dnsLabel, int, ip, labelSelector, list, obj, poolRange, set, str, type Schema } from './schema.ts';

// Counts are strings: an IPv6 /64 alone holds 2^64 addresses, more than an int64 can.
const count = (description: string): Schema => str(description, { pattern: '^[0-9]+$', maxLength: 40 });

function familyUsage(family: string): Schema {
  return obj(`${family} addresses of the pool.`, {
    total: count('Addresses in the pool, reserved ones excluded.'),
    used: count('Addresses assigned to Services.'),
    free: count('Addresses still available.'),
  });
}

/** CEL: reserved address `r` is inside a CIDR entry, or can't be judged here. */
const reservedInside = "!isIP(r) || self.addresses.exists(a, a.contains('-') || !isCIDR(a) || cidr(a).containsIP(r))";

/**
 * The same fields, names and defaults as a pool in the standalone file (docs/config.md), with
 * metadata.name as the pool's name; plus serviceSelector, which only Kubernetes has labels for.
 */
const vipPoolSpec = obj(
  'Addresses Services may get, and who may claim them.',
  {
    addresses: set('CIDRs (10.200.0.0/16, fd00:200::/64), addresses, or inclusive ranges (10.200.1.10-10.200.1.20). No two entries of any pools may overlap.', poolRange('A CIDR, an address or a range.'), 64, { minItems: 1 }),
    autoAssign: bool('LoadBalancer Services that name no pool and no address may get addresses from here.', true),
    avoidBuggyIPs: bool('Never hand out IPv4 addresses ending in .0 or .255.', false),
    allowExternalIPs: bool('Services may claim addresses of this pool through spec.externalIPs (only from the namespaces listed, if any).', false),
    namespaces: set('Namespaces allowed to use the pool; empty or absent means all.', dnsLabel('A namespace.'), 256),
    serviceSelector: labelSelector('Only Services with these labels get addresses from this pool; absent means any Service.'),
    priority: int('Higher is tried first; ties by name.', -1000, 1000, { default: 0 }),
    reserved: set('Addresses inside the pool never handed out (the VIP interface gateway, say).', ip('An address.'), 256),
  },
  ['addresses'],
  {
    'x-kubernetes-validations': [
      {
        // CEL can't order addresses, so reserved entries are only checked against CIDR entries.
        // Entries that aren't addresses or CIDRs at all are left to their own rules: parsing them
        // here would fail the whole rule with an evaluation error that names neither.
        rule: `!has(self.reserved) || self.reserved.all(r, ${reservedInside})`,
        message: 'every reserved address must lie inside the pool addresses',
        // Names the culprits: the same walk as the rule, run only when the rule failed.
        messageExpression:
          `'every reserved address must lie inside the pool addresses; outside them: ' + self.reserved.filter(r, !(${reservedInside})).join(', ')`,
        fieldPath: '.reserved',
      },
    ],
  },
);

const vipPoolStatus = obj('Written by the controller.', {
  observedGeneration: { type: 'integer', format: 'int64', minimum: 0, description: 'The generation this status describes.' },
  ipv4: familyUsage('IPv4'),
  ipv6: familyUsage('IPv6'),
  conflicts: list(
    'Addresses this pool shares with other pools; Services keep what they hold, nothing new is handed out from them.',
    obj('A conflict with one other pool.', {
      pool: dnsLabel('The other pool.'),
      addresses: set('The overlapping entries, as written in this pool.', str('An entry.', { maxLength: 91 }), 64),
    }, ['pool']),
    64,
  ),
  conditions: conditions(),
});

export function vipPoolCrd(): ICustomResourceDefinition {
  return crd({
    kind: 'VIPPool',
    description: 'A pool of virtual IP addresses for LoadBalancer Services and allowed spec.externalIPs.',
    spec: vipPoolSpec,
    status: vipPoolStatus,
    columns: [
      { name: 'Addresses', type: 'string', jsonPath: '.spec.addresses' },
      { name: 'Auto', type: 'boolean', jsonPath: '.spec.autoAssign' },
      { name: 'ExternalIPs', type: 'boolean', jsonPath: '.spec.allowExternalIPs' },
      { name: 'Free-IPv4', type: 'string', jsonPath: '.status.ipv4.free' },
      { name: 'Free-IPv6', type: 'string', jsonPath: '.status.ipv6.free' },
      { name: 'Priority', type: 'integer', jsonPath: '.spec.priority', priority: 1 },
      { name: 'Namespaces', type: 'string', jsonPath: '.spec.namespaces', priority: 1 },
    ],
  });
}
