// What a user reads when our CRDs refuse an object. The real API server prints a failed CEL
// rule as `<field>: Invalid value: "<schema type>": <message>`: never the value, and `<nil>` as
// the field of a root rule without fieldPath. So every rule names the offending value in a
// messageExpression, and every rule on an object names a field. Checked two ways: the rendered
// CRDs run through the fake API server's custom resource handling (recorded-server exact), and
// every rule and messageExpression type-checked against the schema it sits on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IJSONSchemaProps } from 'kubernetes-models/apiextensions.k8s.io/v1/JSONSchemaProps';
import type { ObjectSchema } from '@marcbachmann/cel-js';
import { admitCustomResource } from '../../test/support/fake-kube-api/crd-schema.ts';
import type { JsonObject } from '../../test/support/fake-kube-api/json.ts';
import { kubernetesCel } from './cel.test-support.ts';
import { schemaNodes } from './kube-schemas.test-support.ts';
import { renderManifests } from './render.ts';
import { crdNamed, rootSchema } from './test-objects.test-support.ts';

const objects = renderManifests();
const crdFor = (plural: string): JsonObject => JSON.parse(JSON.stringify(crdNamed(objects, `${plural}.vipgate.io`))) as JsonObject;

interface Cause {
  readonly reason: string;
  readonly message: string;
  readonly field: string;
}

/** The causes of the refusal of `spec` (and `name`) by the CRD of `plural`. */
function refusal(plural: string, kind: string, spec: JsonObject, name = 'x'): Cause[] {
  const object: JsonObject = { apiVersion: 'vipgate.io/v1alpha1', kind, metadata: { name }, spec };
  const verdict = admitCustomResource(crdFor(plural), { operation: 'CREATE', version: 'v1alpha1', object, fieldValidation: 'Strict', patch: false });
  assert.ok(verdict.error !== undefined, `${kind} ${JSON.stringify(spec)} was admitted`);
  assert.equal(verdict.error.code, 422, JSON.stringify(verdict.error.status));
  const details = verdict.error.status['details'] as unknown as { causes: Cause[] };
  return details.causes;
}

interface Case {
  readonly what: string;
  readonly plural: string;
  readonly kind: string;
  readonly spec: JsonObject;
  readonly name?: string;
  /** The field the error must name. */
  readonly field: string;
  /** Text the message must carry: the offending value. */
  readonly shows: readonly string[];
  readonly reason?: string;
}

const peer = { address: '192.0.2.1', asn: 65001, localASN: 65000 };
const node = { vipInterface: { name: 'vip0' } };
const cases: readonly Case[] = [
  { what: 'pool entry with host bits', plural: 'vippools', kind: 'VIPPool', spec: { addresses: ['10.201.0.1/16'] }, field: 'spec.addresses[0]', shows: ['"10.201.0.1/16"'] },
  { what: 'reserved outside the pool', plural: 'vippools', kind: 'VIPPool', spec: { addresses: ['10.201.0.0/16'], reserved: ['10.201.0.1', '10.202.0.1'] }, field: 'spec.reserved', shows: ['10.202.0.1'] },
  {
    what: 'In without values',
    plural: 'vippools',
    kind: 'VIPPool',
    spec: { addresses: ['10.201.0.0/16'], serviceSelector: { matchExpressions: [{ key: 'tier', operator: 'In' }] } },
    field: 'spec.serviceSelector.matchExpressions[0].values',
    shows: ['In', '"tier"'],
  },
  { what: 'peer address not an IP', plural: 'bgppeers', kind: 'BGPPeer', spec: { ...peer, address: 'tor1.example' }, field: 'spec.address', shows: ['"tor1.example"'] },
  { what: 'router ID not IPv4', plural: 'bgppeers', kind: 'BGPPeer', spec: { ...peer, routerID: 'fd00::1' }, field: 'spec.routerID', shows: ['"fd00::1"'] },
  { what: 'hold time 2', plural: 'bgppeers', kind: 'BGPPeer', spec: { ...peer, holdTimeSeconds: 2 }, field: 'spec.holdTimeSeconds', shows: ['got 2'] },
  { what: 'multihop on iBGP', plural: 'bgppeers', kind: 'BGPPeer', spec: { ...peer, localASN: 65001, multihop: 4 }, field: 'spec.multihop', shows: ['multihop 4', '65001'] },
  { what: 'multihop with BFD', plural: 'bgppeers', kind: 'BGPPeer', spec: { ...peer, multihop: 4, bfd: { enabled: true } }, field: 'spec.multihop', shows: ['multihop 4'] },
  { what: 'localAddress of the other family', plural: 'bgppeers', kind: 'BGPPeer', spec: { ...peer, localAddress: 'fd00::1' }, field: 'spec.localAddress', shows: ['fd00::1', '192.0.2.1'] },
  { what: 'next hop not an IP', plural: 'bgppeers', kind: 'BGPPeer', spec: { ...peer, nextHop: { ipv4: 'gw' } }, field: 'spec.nextHop.ipv4', shows: ['"gw"'] },
  { what: 'community part too big', plural: 'bgpadvertisements', kind: 'BGPAdvertisement', spec: { communities: ['65000:70000'] }, field: 'spec.communities[0]', shows: ['"65000:70000"'] },
  { what: 'large community part too big', plural: 'bgpadvertisements', kind: 'BGPAdvertisement', spec: { largeCommunities: ['4294967296:1:2'] }, field: 'spec.largeCommunities[0]', shows: ['"4294967296:1:2"'] },
  { what: 'L2 interface named ".."', plural: 'l2advertisements', kind: 'L2Advertisement', spec: { interfaces: ['eth0', '..'] }, field: 'spec.interfaces[1]', shows: ['got ".."'] },
  { what: 'interface named ".."', plural: 'lbnodeconfigs', kind: 'LBNodeConfig', spec: { vipInterface: { name: '..' } }, field: 'spec.vipInterface.name', shows: ['got ".."'] },
  { what: 'interface address without length', plural: 'lbnodeconfigs', kind: 'LBNodeConfig', spec: { vipInterface: { name: 'vip0', addresses: ['10.200.0.1'] } }, field: 'spec.vipInterface.addresses[0]', shows: ['"10.200.0.1"'] },
  { what: 'route with host bits', plural: 'lbnodeconfigs', kind: 'LBNodeConfig', spec: { vipInterface: { name: 'vip0', routes: ['10.200.0.1/16'] } }, field: 'spec.vipInterface.routes[0]', shows: ['"10.200.0.1/16"'] },
  { what: 'deny source with host bits', plural: 'lbnodeconfigs', kind: 'LBNodeConfig', spec: { ...node, dataplane: { denySources: ['10.180.1.1/24'] } }, field: 'spec.dataplane.denySources[0]', shows: ['"10.180.1.1/24"'] },
  { what: 'engine xdp without xdp', plural: 'lbnodeconfigs', kind: 'LBNodeConfig', spec: { ...node, dataplane: { engine: 'xdp' } }, field: 'spec.dataplane.xdp', shows: ['engine xdp'], reason: 'FieldValueRequired' },
  {
    what: 'two SNAT addresses of one family',
    plural: 'lbnodeconfigs',
    kind: 'LBNodeConfig',
    spec: { ...node, dataplane: { engine: 'xdp', xdp: { interfaces: ['eth0'], snatAddresses: ['10.0.0.1', '10.0.0.2'] } } },
    field: 'spec.dataplane.xdp.snatAddresses',
    shows: ['10.0.0.1, 10.0.0.2'],
  },
];

for (const c of cases) {
  test(`CRD errors name the field and the value: ${c.what}`, () => {
    const causes = refusal(c.plural, c.kind, c.spec, c.name);
    for (const cause of causes) assert.notEqual(cause.field, '<nil>', `${cause.message}: no field`);
    const cause = causes.find((x) => x.field === c.field);
    assert.ok(cause, `no error on ${c.field}: ${JSON.stringify(causes)}`);
    for (const text of c.shows) assert.ok(cause.message.includes(text), `${c.field}: "${cause.message}" does not show ${text}`);
    if (c.reason !== undefined) assert.equal(cause.reason, c.reason);
  });
}

/** Entries no rule above them should choke on: only the entry's own error, naming it. */
const malformed: readonly Case[] = [
  { what: 'reserved entry not an address', plural: 'vippools', kind: 'VIPPool', spec: { addresses: ['10.201.0.0/16'], reserved: ['nope'] }, field: 'spec.reserved[0]', shows: ['"nope"'] },
  { what: 'pool entry not a CIDR, with reserved', plural: 'vippools', kind: 'VIPPool', spec: { addresses: ['10.201.0.0/33'], reserved: ['10.201.0.1'] }, field: 'spec.addresses[0]', shows: ['"10.201.0.0/33"'] },
  { what: 'localAddress not an address', plural: 'bgppeers', kind: 'BGPPeer', spec: { ...peer, localAddress: 'me' }, field: 'spec.localAddress', shows: ['"me"'] },
  {
    what: 'SNAT entry not an address',
    plural: 'lbnodeconfigs',
    kind: 'LBNodeConfig',
    spec: { ...node, dataplane: { engine: 'xdp', xdp: { interfaces: ['eth0'], snatAddresses: ['eth0', '10.0.0.1'] } } },
    field: 'spec.dataplane.xdp.snatAddresses[0]',
    shows: ['"eth0"'],
  },
  { what: 'community without a colon', plural: 'bgpadvertisements', kind: 'BGPAdvertisement', spec: { communities: ['65000-100'] }, field: 'spec.communities[0]', shows: ['"65000-100"'] },
];

for (const c of malformed) {
  test(`CRD errors: a malformed entry is its own error, not an evaluation error of another rule: ${c.what}`, () => {
    const causes = refusal(c.plural, c.kind, c.spec, c.name);
    assert.deepEqual(
      causes.map((x) => x.field),
      [c.field],
      JSON.stringify(causes),
    );
    for (const text of c.shows) assert.ok(causes[0]!.message.includes(text), causes[0]!.message);
  });
}

test('L2Advertisement: a full object is admitted as written (no defaults: a field left out is left to the other advertisements)', () => {
  const spec: JsonObject = {
    pools: ['gold'], interfaces: ['eth0', 'bond0.100'], announce: { count: 3, intervalMs: 250, periodicSeconds: 0 }, failbackHoldDownSeconds: 10,
    bfd: { minTxMs: 100, minRxMs: 100, multiplier: 3 }, nodeSelector: { matchLabels: { zone: 'a' } },
  };
  for (const given of [spec, { interfaces: ['eth0'] }]) {
    const object: JsonObject = { apiVersion: 'vipgate.io/v1alpha1', kind: 'L2Advertisement', metadata: { name: 'lan' }, spec: given };
    const verdict = admitCustomResource(crdFor('l2advertisements'), { operation: 'CREATE', version: 'v1alpha1', object, fieldValidation: 'Strict', patch: false });
    assert.equal(verdict.error, undefined, JSON.stringify(verdict.error?.status));
    assert.deepEqual(verdict.object['spec'], given);
  }
});

/** Schema bounds (no CEL): the server names the field, and the value where it prints one. */
const l2Bounds: readonly (Omit<Case, 'plural' | 'kind'> & { readonly reason: string })[] = [
  { what: 'no interfaces', spec: {}, field: 'spec.interfaces', shows: ['Required value'], reason: 'FieldValueRequired' },
  { what: 'empty interfaces', spec: { interfaces: [] }, field: 'spec.interfaces', shows: ['at least 1 items'], reason: 'FieldValueInvalid' },
  { what: 'interface name over 15 bytes', spec: { interfaces: ['a-very-long-ifname'] }, field: 'spec.interfaces[0]', shows: ['15 bytes'], reason: 'FieldValueTooLong' },
  { what: 'interface name with a space', spec: { interfaces: ['eth 0'] }, field: 'spec.interfaces[0]', shows: ['"eth 0"'], reason: 'FieldValueInvalid' },
  { what: 'interface twice', spec: { interfaces: ['eth0', 'eth0'] }, field: 'spec.interfaces[1]', shows: ['"eth0"'], reason: 'FieldValueDuplicate' },
  { what: 'pool not a DNS label', spec: { interfaces: ['eth0'], pools: ['Gold'] }, field: 'spec.pools[0]', shows: ['"Gold"'], reason: 'FieldValueInvalid' },
  { what: 'announce count 11', spec: { interfaces: ['eth0'], announce: { count: 11 } }, field: 'spec.announce.count', shows: ['11', 'less than or equal to 10'], reason: 'FieldValueInvalid' },
  { what: 'announce interval 5 ms', spec: { interfaces: ['eth0'], announce: { intervalMs: 5 } }, field: 'spec.announce.intervalMs', shows: ['5', 'greater than or equal to 10'], reason: 'FieldValueInvalid' },
  { what: 'periodic over an hour', spec: { interfaces: ['eth0'], announce: { periodicSeconds: 3601 } }, field: 'spec.announce.periodicSeconds', shows: ['3601'], reason: 'FieldValueInvalid' },
  { what: 'hold-down over an hour', spec: { interfaces: ['eth0'], failbackHoldDownSeconds: 3601 }, field: 'spec.failbackHoldDownSeconds', shows: ['3601'], reason: 'FieldValueInvalid' },
  { what: 'BFD transmit 5 ms', spec: { interfaces: ['eth0'], bfd: { minTxMs: 5 } }, field: 'spec.bfd.minTxMs', shows: ['5'], reason: 'FieldValueInvalid' },
  { what: 'BFD receive over a minute', spec: { interfaces: ['eth0'], bfd: { minRxMs: 60001 } }, field: 'spec.bfd.minRxMs', shows: ['60001'], reason: 'FieldValueInvalid' },
  { what: 'BFD multiplier 0', spec: { interfaces: ['eth0'], bfd: { multiplier: 0 } }, field: 'spec.bfd.multiplier', shows: ['0', 'greater than or equal to 1'], reason: 'FieldValueInvalid' },
  {
    what: 'selector In without values',
    spec: { interfaces: ['eth0'], nodeSelector: { matchExpressions: [{ key: 'zone', operator: 'In' }] } },
    field: 'spec.nodeSelector.matchExpressions[0].values',
    shows: ['In', '"zone"'],
    reason: 'FieldValueInvalid',
  },
];

for (const c of l2Bounds) {
  test(`L2Advertisement errors name the field: ${c.what}`, () => {
    const causes = refusal('l2advertisements', 'L2Advertisement', c.spec);
    const cause = causes.find((x) => x.field === c.field);
    assert.ok(cause, `no error on ${c.field}: ${JSON.stringify(causes)}`);
    assert.equal(cause.reason, c.reason);
    for (const text of c.shows) assert.ok(cause.message.includes(text), `${c.field}: "${cause.message}" does not show ${text}`);
  });
}

/** The CEL type of a schema node, as cel-js declares variables (objects by their fields). */
function celType(schema: IJSONSchemaProps): string | ObjectSchema {
  switch (schema.type) {
    case 'string':
      return 'string';
    case 'integer':
      return 'int';
    case 'number':
      return 'double';
    case 'boolean':
      return 'bool';
    case 'array': {
      const items = schema.items !== undefined ? celType(schema.items) : 'dyn';
      return `list<${typeof items === 'string' ? items : 'dyn'}>`;
    }
    default: {
      if (schema.properties === undefined) return 'map<string, dyn>';
      const fields: ObjectSchema = {};
      for (const [name, sub] of Object.entries(schema.properties)) fields[name] = celType(sub);
      return fields;
    }
  }
}

test('every CRD rule has a messageExpression that names the value, and rules on objects a fieldPath', () => {
  let count = 0;
  for (const crd of objects.filter((o) => o.kind === 'CustomResourceDefinition')) {
    const name = crd.metadata?.name ?? '';
    for (const [path, node] of schemaNodes(rootSchema(crdNamed(objects, name)) as Record<string, unknown>)) {
      const schema = node as IJSONSchemaProps;
      for (const rule of schema['x-kubernetes-validations'] ?? []) {
        count++;
        const where = `${name}${path}: ${rule.rule}`;
        assert.match(rule.messageExpression ?? '', /\bself\b/, `${where}: no messageExpression naming the value`);
        if (schema.type === 'object') assert.ok(rule.fieldPath !== undefined && rule.fieldPath !== '', `${where}: a rule on an object needs a fieldPath`);
      }
    }
  }
  assert.ok(count >= 15, `${count} rules`);
});

test('every rule type-checks as bool and every messageExpression as string, with self typed by the schema', () => {
  for (const crd of objects.filter((o) => o.kind === 'CustomResourceDefinition')) {
    const name = crd.metadata?.name ?? '';
    for (const [path, node] of schemaNodes(rootSchema(crdNamed(objects, name)) as Record<string, unknown>)) {
      const schema = node as IJSONSchemaProps;
      for (const rule of schema['x-kubernetes-validations'] ?? []) {
        let self = celType(schema);
        // At the root, rules see metadata.name and metadata.generateName only.
        if (path === '' && typeof self === 'object') self = { ...self, metadata: { name: 'string', generateName: 'string' } };
        const env = typeof self === 'string' ? kubernetesCel().registerVariable('self', self) : kubernetesCel().registerVariable({ name: 'self', schema: self });
        const where = `${name}${path}`;
        const checked = env.check(rule.rule);
        assert.equal(checked.type, 'bool', `${where}: rule ${rule.rule}: ${checked.error?.message ?? ''}`);
        if (rule.messageExpression === undefined) continue;
        const message = env.check(rule.messageExpression);
        assert.equal(message.type, 'string', `${where}: messageExpression ${rule.messageExpression}: ${message.error?.message ?? ''}`);
      }
    }
  }
});
