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
