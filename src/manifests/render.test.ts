import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { manifestsToYaml, renderManifests } from './render.ts';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { schemaNodes, structuralProblems, validateAgainstKubernetes } from './kube-schemas.test-support.ts';
import { crdNamed, prop, rootSchema, the } from './test-objects.test-support.ts';

const deployFile = fileURLToPath(new URL('../../deploy/vipgate.yaml', import.meta.url));

test('deploy/vipgate.yaml is exactly what renderManifests(defaults) prints (UPDATE=1 rewrites it)', () => {
  const rendered = manifestsToYaml(renderManifests());
  if (process.env.UPDATE === '1') writeFileSync(deployFile, rendered);
  const shipped = readFileSync(deployFile, 'utf8');
  assert.ok(shipped === rendered, 'deploy/vipgate.yaml is stale: run `UPDATE=1 node scripts/run-tests.mjs unit manifests/render` and commit it');
});

test('the YAML reads back as the same objects, one document each', () => {
  const objects = renderManifests({ xdp: true });
  const docs = parseAllDocuments(manifestsToYaml(objects));
  assert.deepEqual(
    docs.map((d) => d.toJS() as unknown),
    objects,
  );
});

test('every object of the default and of a non-default install validates against the Kubernetes schemas', () => {
  for (const objects of [renderManifests(), renderManifests({ xdp: true, namespace: 'lb', lbTolerations: [], lbNodeSelector: {} })]) {
    for (const obj of objects) assert.doesNotThrow(() => validateAgainstKubernetes(obj), `${obj.kind} ${obj.metadata?.name ?? ''}`);
  }
});

test('the schema check is not a rubber stamp: a wrong type is refused', () => {
  const deployment = structuredClone(the<IDeployment>(renderManifests(), 'Deployment'));
  (deployment.spec as unknown as Record<string, unknown>).replicas = 'two';
  assert.throws(() => validateAgainstKubernetes(deployment), /replicas/);
  assert.throws(() => validateAgainstKubernetes({ apiVersion: 'v1', kind: 'Nonsense' }), /no Kubernetes schema/);
});

test('CRDs: vipgate.io/v1alpha1, structural schemas, status subresource where the controller writes status', () => {
  const objects = renderManifests();
  const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => crdNamed(objects, o.metadata?.name ?? ''));
  assert.deepEqual(
    crds.map((c) => c.spec.names.kind).sort(),
    ['BGPAdvertisement', 'BGPPeer', 'L2Advertisement', 'LBNodeConfig', 'LBNodeStatus', 'VIPPool'],
  );
  for (const c of crds) {
    assert.equal(c.spec.group, 'vipgate.io');
    const name = c.metadata?.name ?? '';
    assert.equal(name, `${c.spec.names.plural}.vipgate.io`);
    assert.equal(c.spec.versions[0]?.name, 'v1alpha1');
    const root = rootSchema(c) as Record<string, unknown>;
    assert.deepEqual(structuralProblems(root), [], name);
    // The API server refuses a CEL rule whose cost it can't bound: every string and list a
    // rule reads must carry a maximum.
    for (const [path, node] of schemaNodes(root)) {
      if (node['x-kubernetes-validations'] === undefined || path === '') continue;
      if (node.type === 'string') assert.ok(typeof node.maxLength === 'number', `${name}${path}: CEL on an unbounded string`);
      for (const [inner, child] of schemaNodes(node)) {
        if (child.type === 'array') assert.ok(typeof child.maxItems === 'number', `${name}${path}${inner}: CEL over an unbounded list`);
      }
    }
  }
  assert.deepEqual(crdNamed(objects, 'vippools.vipgate.io').spec.versions[0]?.subresources, { status: {} });
  // The agents' read-back: bounded whatever the number of Services (etcd keeps objects under 1.5 MB).
  const nodeStatus = crdNamed(objects, 'lbnodestatuses.vipgate.io');
  assert.deepEqual(nodeStatus.spec.versions[0]?.subresources, { status: {} });
  assert.equal(prop(rootSchema(nodeStatus), 'status', 'problems').maxItems, 500);
});

test('the structural check finds what the API server would refuse', () => {
  assert.deepEqual(structuralProblems({ type: 'object', properties: { a: { description: 'x' } } }), ['.a: no type']);
  assert.deepEqual(structuralProblems({ type: 'object', properties: {}, additionalProperties: { type: 'string' } }), [': properties and additionalProperties together']);
  assert.deepEqual(structuralProblems({ type: 'string', $ref: '#/x' }), [': unknown or disallowed key $ref']);
});

test('VIPPool has the standalone pool fields with the same defaults, plus serviceSelector', () => {
  const root = rootSchema(crdNamed(renderManifests(), 'vippools.vipgate.io'));
  const spec = prop(root, 'spec');
  assert.deepEqual(Object.keys(spec.properties ?? {}).sort(), [
    'addresses', 'allowExternalIPs', 'autoAssign', 'avoidBuggyIPs', 'namespaces', 'priority', 'reserved', 'serviceSelector',
  ]);
  assert.equal(prop(spec, 'autoAssign').default, true);
  assert.equal(prop(spec, 'avoidBuggyIPs').default, false);
  assert.equal(prop(spec, 'allowExternalIPs').default, false);
  assert.equal(prop(spec, 'priority').default, 0);
  assert.deepEqual([prop(spec, 'priority').minimum, prop(spec, 'priority').maximum], [-1000, 1000]);
  assert.deepEqual(spec.required, ['addresses']);
  assert.deepEqual(Object.keys(prop(root, 'status', 'ipv6').properties ?? {}), ['total', 'used', 'free']);
  // A /64 has 2^64 addresses: more than an int64, so counts are decimal strings.
  assert.equal(prop(root, 'status', 'ipv6', 'total').type, 'string');
});

test('kubectl get shows the useful columns', () => {
  const columns = (name: string): string[] =>
    (crdNamed(renderManifests(), name).spec.versions[0]?.additionalPrinterColumns ?? []).map((c) => c.name);
  assert.deepEqual(columns('vippools.vipgate.io').slice(0, 5), ['Addresses', 'Auto', 'ExternalIPs', 'Free-IPv4', 'Free-IPv6']);
  assert.deepEqual(columns('bgppeers.vipgate.io').slice(0, 3), ['Address', 'ASN', 'Local-ASN']);
  assert.deepEqual(columns('lbnodeconfigs.vipgate.io').slice(0, 3), ['Interface', 'Addresses', 'Engine']);
  assert.deepEqual(columns('l2advertisements.vipgate.io'), ['Pools', 'Interfaces', 'Hold-Down', 'Age']);
});
