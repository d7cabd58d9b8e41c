import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import type { IJSONSchemaProps } from 'kubernetes-models/apiextensions.k8s.io/v1/JSONSchemaProps';
import type { Pool } from '../model/index.ts';
import { kubernetesCel } from './cel.test-support.ts';
import { externalIPParamsData } from '../kube-model/external-ip-params.ts';
import { schemaNodes } from './kube-schemas.test-support.ts';
import { renderManifests } from './render.ts';
import { crdNamed, prop, rootSchema, the } from './test-objects.test-support.ts';

const objects = renderManifests();
const policy = the<IValidatingAdmissionPolicy>(objects, 'ValidatingAdmissionPolicy');

function pool(name: string, addresses: string[], extra: Partial<Pool> = {}): Pool {
  return { name, addresses, autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: true, namespaces: [], reserved: [], priority: 0, ...extra };
}

interface Verdict {
  readonly allowed: boolean;
  readonly message?: string;
}

/** The params ConfigMap's fields as the controller writes them; no pools, no `data` (as shipped). */
function paramsData(pools: Pool[]): { data?: Record<string, string> } {
  const data = externalIPParamsData(pools);
  return Object.keys(data).length === 0 ? {} : { data };
}

/** Evaluates the shipped policy as the API server does: match conditions, variables in order, validations. */
function admit(pools: Pool[], namespace: string, externalIPs: string[] | undefined, oldExternalIPs?: string[]): Verdict {
  const env = kubernetesCel();
  const service = (ips: string[] | undefined): unknown => ({ metadata: { name: 'web', namespace }, spec: { type: 'ClusterIP', ...(ips ? { externalIPs: ips } : {}) } });
  const variables: Record<string, unknown> = {};
  const ctx = {
    object: service(externalIPs),
    oldObject: oldExternalIPs === undefined ? null : service(oldExternalIPs),
    request: { namespace, operation: oldExternalIPs === undefined ? 'CREATE' : 'UPDATE' },
    params: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'vipgate-external-ips', namespace: 'vipgate-system' }, ...paramsData(pools) },
    variables,
  };
  for (const c of policy.spec?.matchConditions ?? []) if (env.evaluate(c.expression, ctx) !== true) return { allowed: true };
  for (const v of policy.spec?.variables ?? []) variables[v.name] = env.evaluate(v.expression, ctx);
  for (const v of policy.spec?.validations ?? []) {
    if (env.evaluate(v.expression, ctx) !== true) return { allowed: false, message: String(env.evaluate(v.messageExpression ?? "'denied'", ctx)) };
  }
  return { allowed: true };
}

const pools = [
  pool('public', ['10.200.0.0/24', 'fd00:200::/64'], { namespaces: ['default', 'shop'] }),
  pool('legacy', ['10.201.0.10-10.201.0.20']),
  pool('lb-only', ['10.202.0.0/24'], { allowExternalIPs: false }),
];

test('admission: an externalIP inside a pool that allows it for the namespace is admitted', () => {
  assert.deepEqual(admit(pools, 'default', ['10.200.0.5']), { allowed: true });
  assert.deepEqual(admit(pools, 'shop', ['fd00:200::5', '10.200.0.6']), { allowed: true });
  // A range becomes CIDRs in the params; both ends and the middle are inside, the neighbours not.
  assert.deepEqual(admit(pools, 'anywhere', ['10.201.0.10', '10.201.0.15', '10.201.0.20']), { allowed: true });
});

test('admission: a hijack attempt is refused, and the message names the pools that would allow it', () => {
  const v = admit(pools, 'default', ['10.200.0.5', '192.0.2.10']);
  assert.equal(v.allowed, false);
  assert.equal(
    v.message,
    'spec.externalIPs: 192.0.2.10 not allowed in namespace default; VIPPools allowing externalIPs here: ' +
      'public (10.200.0.0/24, fd00:200::/64), legacy (10.201.0.10/31, 10.201.0.12/30, 10.201.0.16/30, 10.201.0.20/32). ' +
      'Or use type: LoadBalancer (see vipgate migrate external-ips).',
  );
  assert.equal(admit(pools, 'default', ['10.201.0.21']).allowed, false, 'just past the end of a range');
  assert.equal(admit(pools, 'default', ['10.201.0.9']).allowed, false, 'just before the start of a range');
});

test('admission: a namespace not listed by the pool is refused; a pool without allowExternalIPs never admits', () => {
  const other = admit(pools, 'tenant-a', ['10.200.0.5']);
  assert.equal(other.allowed, false);
  assert.match(other.message ?? '', /10\.200\.0\.5 not allowed in namespace tenant-a; VIPPools allowing externalIPs here: legacy \(/);
  assert.doesNotMatch(other.message ?? '', /public/);
  assert.equal(admit(pools, 'default', ['10.202.0.5']).allowed, false);
  assert.match(admit([pools[0]!], 'tenant-a', ['10.200.0.5']).message ?? '', /; no VIPPool allows externalIPs here\./);
  assert.match(admit([], 'default', ['10.200.0.5']).message ?? '', /no VIPPool allows externalIPs here/);
});

test('admission: Services without externalIPs never reach the rule', () => {
  assert.deepEqual(admit([], 'default', undefined), { allowed: true });
  assert.deepEqual(admit([], 'default', []), { allowed: true });
});

test('admission: an update keeping its externalIPs passes; one adding an address is checked for that address only', () => {
  assert.deepEqual(admit([], 'default', ['192.0.2.10'], ['192.0.2.10']), { allowed: true }, 'a label change on an old Service');
  const added = admit(pools, 'default', ['192.0.2.10', '192.0.2.11'], ['192.0.2.10']);
  assert.equal(added.allowed, false);
  assert.match(added.message ?? '', /^spec\.externalIPs: 192\.0\.2\.11 not allowed/);
});

test('admission: something that is not an IP is refused, not an evaluation error', () => {
  assert.equal(admit(pools, 'default', ['10.200.0.500']).allowed, false);
});

/** Every CEL rule of every CRD, with where it sits. */
function crdRules(): { where: string; rule: string; node: IJSONSchemaProps }[] {
  const out: { where: string; rule: string; node: IJSONSchemaProps }[] = [];
  for (const crd of objects.filter((o) => o.kind === 'CustomResourceDefinition')) {
    const name = crd.metadata?.name ?? '';
    for (const [path, node] of schemaNodes(rootSchema(crdNamed(objects, name)) as Record<string, unknown>)) {
      for (const r of (node as IJSONSchemaProps)['x-kubernetes-validations'] ?? []) out.push({ where: `${name}${path}`, rule: r.rule, node });
    }
  }
  return out;
}

test('every CRD rule parses as CEL', () => {
  const rules = crdRules();
  assert.ok(rules.length >= 10);
  const env = kubernetesCel();
  for (const { where, rule } of rules) assert.doesNotThrow(() => env.parse(rule), where);
});

function holds(schema: IJSONSchemaProps, self: unknown): boolean {
  const rules = schema['x-kubernetes-validations'] ?? [];
  assert.ok(rules.length > 0, 'no rule here');
  const env = kubernetesCel();
  return rules.every((r) => {
    try {
      return env.evaluate(r.rule, { self }) === true;
    } catch {
      return false; // the API server reports an evaluation error as a failed rule
    }
  });
}

const vipPool = rootSchema(crdNamed(objects, 'vippools.vipgate.io'));
const peer = rootSchema(crdNamed(objects, 'bgppeers.vipgate.io'));
const adv = rootSchema(crdNamed(objects, 'bgpadvertisements.vipgate.io'));
const node = rootSchema(crdNamed(objects, 'lbnodeconfigs.vipgate.io'));
const l2 = rootSchema(crdNamed(objects, 'l2advertisements.vipgate.io'));

test('VIPPool addresses: CIDRs, single addresses and same-family ranges pass; the rest fail', () => {
  const entry = prop(vipPool, 'spec', 'addresses').items as IJSONSchemaProps;
  for (const ok of ['10.200.0.0/16', 'fd00:200::/64', '10.200.0.5', 'fd00::5', '10.200.1.10-10.200.1.20', 'fd00::1-fd00::9']) assert.ok(holds(entry, ok), ok);
  for (const bad of ['10.200.0.5/16', '10.200.0.0/33', 'ten', '10.0.0.1-fd00::1', '10.0.0.1-', '10.0.0.1-10.0.0.2-10.0.0.3', '::ffff:10.0.0.1']) assert.ok(!holds(entry, bad), bad);
});

test('VIPPool reserved addresses must lie in a CIDR entry (ranges are left to the controller)', () => {
  const spec = prop(vipPool, 'spec');
  assert.ok(holds(spec, { addresses: ['10.200.0.0/24'], reserved: ['10.200.0.1'] }));
  assert.ok(!holds(spec, { addresses: ['10.200.0.0/24'], reserved: ['10.9.9.9'] }));
  assert.ok(holds(spec, { addresses: ['10.200.0.0/24'] }));
  assert.ok(holds(spec, { addresses: ['10.201.0.1-10.201.0.9'], reserved: ['10.9.9.9'] }), 'CEL cannot order addresses');
});

test('label selectors: In/NotIn need values, Exists/DoesNotExist take none', () => {
  const requirement = prop(vipPool, 'spec', 'serviceSelector', 'matchExpressions').items as IJSONSchemaProps;
  assert.ok(holds(requirement, { key: 'tier', operator: 'In', values: ['web'] }));
  assert.ok(!holds(requirement, { key: 'tier', operator: 'In', values: [] }));
  assert.ok(!holds(requirement, { key: 'tier', operator: 'NotIn' }));
  assert.ok(holds(requirement, { key: 'tier', operator: 'Exists' }));
  assert.ok(!holds(requirement, { key: 'tier', operator: 'DoesNotExist', values: ['x'] }));
});

test('BGPPeer: hold time 0 or ≥ 3; multihop only for eBGP; localAddress of the peer family; router ID IPv4', () => {
  for (const [v, ok] of [[0, true], [3, true], [90, true], [1, false], [2, false]] as const) assert.equal(holds(prop(peer, 'spec', 'holdTimeSeconds'), v), ok, String(v));
  const spec = prop(peer, 'spec');
  assert.ok(holds(spec, { address: '10.0.0.1', asn: 65001, localASN: 65002, multihop: 3 }));
  assert.ok(!holds(spec, { address: '10.0.0.1', asn: 65001, localASN: 65001, multihop: 3 }));
  assert.ok(!holds(spec, { address: '10.0.0.1', asn: 65001, localASN: 65002, multihop: 3, bfd: { enabled: true } }));
  assert.ok(holds(spec, { address: '10.0.0.1', asn: 65001, localASN: 65002, multihop: 3, bfd: { enabled: false } }));
  assert.ok(!holds(spec, { address: '10.0.0.1', asn: 65001, localASN: 65002, localAddress: 'fd00::1' }));
  assert.ok(holds(prop(peer, 'spec', 'routerID'), '10.0.0.1'));
  assert.ok(!holds(prop(peer, 'spec', 'routerID'), 'fd00::1'));
});

test('BGPAdvertisement communities: each part in range', () => {
  const community = prop(adv, 'spec', 'communities').items as IJSONSchemaProps;
  assert.ok(holds(community, '65000:100'));
  assert.ok(!holds(community, '65536:1'));
  const large = prop(adv, 'spec', 'largeCommunities').items as IJSONSchemaProps;
  assert.ok(holds(large, '4294967295:1:2'));
  assert.ok(!holds(large, '4294967296:1:2'));
});

test('LBNodeConfig: interface addresses keep host bits, routes must not; denySources are CIDRs', () => {
  assert.ok(holds(prop(node, 'spec', 'vipInterface', 'addresses').items as IJSONSchemaProps, '10.200.0.1/24'));
  assert.ok(!holds(prop(node, 'spec', 'vipInterface', 'addresses').items as IJSONSchemaProps, '10.200.0.1'));
  assert.ok(holds(prop(node, 'spec', 'vipInterface', 'routes').items as IJSONSchemaProps, '10.200.0.0/16'));
  assert.ok(!holds(prop(node, 'spec', 'vipInterface', 'routes').items as IJSONSchemaProps, '10.200.0.1/16'));
  assert.ok(!holds(prop(node, 'spec', 'vipInterface', 'name'), '..'));
});

test('LBNodeConfig: engine xdp needs the xdp settings; SNAT addresses at most one per family', () => {
  const dataplane = prop(node, 'spec', 'dataplane');
  assert.ok(holds(dataplane, { engine: 'nftables' }));
  assert.ok(!holds(dataplane, { engine: 'xdp' }));
  assert.ok(holds(dataplane, { engine: 'xdp', xdp: { interfaces: ['eth0'] } }));
  const snat = prop(node, 'spec', 'dataplane', 'xdp', 'snatAddresses');
  assert.ok(holds(snat, ['10.180.1.16', 'fd00:180::16']));
  assert.ok(!holds(snat, ['10.180.1.16', '10.180.1.17']));
});

test('L2Advertisement: interface names as the kernel takes them; a selector as everywhere else', () => {
  const name = prop(l2, 'spec', 'interfaces').items as IJSONSchemaProps;
  assert.ok(holds(name, 'eth0'));
  assert.ok(holds(name, 'bond0.100'));
  assert.ok(!holds(name, '.'));
  assert.ok(!holds(name, '..'));
  const requirement = prop(l2, 'spec', 'nodeSelector', 'matchExpressions').items as IJSONSchemaProps;
  assert.ok(!holds(requirement, { key: 'zone', operator: 'Exists', values: ['a'] }));
});
