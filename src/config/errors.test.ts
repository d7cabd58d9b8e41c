import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, ConfigErrorCode, ConfigIssueCode, parseConfig } from './index.ts';

const HEAD = 'apiVersion: vipgate.io/v1alpha1\nkind: AgentConfig\n';

/** Parses text that must fail and returns the error. */
function failure(text: string): ConfigError {
  try {
    parseConfig(text, 'lb1.yaml', { hostname: 'test' });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail('the config was accepted');
}

test('a port out of range names file:line:col, path, value and the allowed range', () => {
  const err = failure(
    HEAD +
      'services:\n' +
      '  - name: nginx\n' +
      '    ports: [{ name: http, port: 80 }]\n' +
      '  - name: nginx2\n' +
      '    ports:\n' +
      '      - name: http\n' +
      '        port: 70000\n',
  );
  assert.equal(err.code, ConfigErrorCode.invalid);
  assert.equal(err.format(), 'lb1.yaml:9:15: services[1].ports[0].port: 70000 is not allowed; expected an integer 1–65535');
  const [issue] = err.issues;
  assert.deepEqual(
    { line: issue?.line, column: issue?.column, path: issue?.path, value: issue?.value, allowed: issue?.allowed },
    { line: 9, column: 15, path: 'services[1].ports[0].port', value: 70000, allowed: 'an integer 1–65535' },
  );
  // The thrown message carries the same lines, so an unhandled error is still readable.
  assert.match(err.message, /lb1\.yaml:9:15: services\[1\]\.ports\[0\]\.port/);
});

test('an unknown field points at the key and suggests the field meant', () => {
  const err = failure(HEAD + 'pools:\n  - name: default\n    adresses: [10.200.0.0/16]\n');
  assert.deepEqual(err.format().split('\n'), [
    'lb1.yaml:4:5: pools[0].addresses: required field is missing; expected a list of CIDRs or ranges',
    'lb1.yaml:5:5: pools[0].adresses: unknown field; expected one of the fields name, addresses, autoAssign, avoidBuggyIPs, allowExternalIPs, namespaces, reserved, priority; did you mean `addresses`?',
  ]);
  assert.equal(err.issues.at(1)?.code, ConfigIssueCode.unknownField);
  assert.equal(err.issues.at(1)?.hint, 'did you mean `addresses`?');
});

test('a misspelt top-level section is caught, with a case-insensitive suggestion', () => {
  const err = failure(HEAD + 'vipinterface:\n  name: vip0\n');
  assert.equal(err.issues.length, 1);
  assert.equal(err.issues.at(0)?.path, 'vipinterface');
  assert.equal(err.issues.at(0)?.hint, 'did you mean `vipInterface`?');
  assert.equal(err.issues.at(0)?.line, 3);
  assert.equal(err.issues.at(0)?.column, 1);
});

test('a bad CIDR says what is wrong with it and what is accepted', () => {
  const err = failure(HEAD + 'pools:\n  - name: a\n    addresses: [10.200.0.0/33, 10.201.0.5/16]\n');
  assert.deepEqual(err.format().split('\n'), [
    'lb1.yaml:5:17: pools[0].addresses[0]: "10.200.0.0/33" has prefix length "33"; IPv4 allows 0 to 32; expected a CIDR (10.200.0.0/16) or an inclusive range first-last (10.200.1.10-10.200.1.20)',
    'lb1.yaml:5:32: pools[0].addresses[1]: "10.201.0.5/16" has host bits set; the network is 10.201.0.0/16; expected a CIDR (10.200.0.0/16) or an inclusive range first-last (10.200.1.10-10.200.1.20)',
  ]);
});

test('duplicate pool names, service names and port names are each reported at the second one', () => {
  const err = failure(
    HEAD +
      'pools:\n' +
      '  - { name: a, addresses: [10.200.0.0/24] }\n' +
      '  - { name: a, addresses: [10.201.0.0/24] }\n' +
      'services:\n' +
      '  - name: web\n' +
      '    ports: [{ name: http, port: 80 }, { name: http, port: 81 }]\n' +
      '  - name: web\n' +
      '    namespace: default\n' +
      '    ports: [{ port: 80 }]\n',
  );
  assert.deepEqual(err.format().split('\n'), [
    'lb1.yaml:5:13: pools[1].name: pool name "a" is already used at pools[0]; expected a unique value',
    'lb1.yaml:8:47: services[0].ports[1].name: port name "http" is already used at ports[0]; expected a unique value',
    'lb1.yaml:9:11: services[1].name: service "default/web" is already used at services[0]; expected a unique value',
  ]);
  assert.ok(err.issues.every((i) => i.code === ConfigIssueCode.duplicate));
});

test('a YAML syntax error is reported with its position, and nothing else is checked', () => {
  const err = failure(HEAD + 'pools:\n  - name: [a\n  - name: b\n');
  assert.equal(err.code, ConfigErrorCode.syntax);
  assert.ok(err.issues.length >= 1);
  assert.equal(err.issues.at(0)?.code, ConfigIssueCode.syntax);
  assert.equal(err.issues.at(0)?.line, 5);
  assert.match(err.format(), /^lb1\.yaml:5:\d+: \S/);
});

test('a repeated key is a syntax error, not a silent override', () => {
  const err = failure(HEAD + 'nodeName: a\nnodeName: b\n');
  assert.equal(err.format(), 'lb1.yaml:4:1: Map keys must be unique');
});

test('a value of the wrong type names the type expected', () => {
  const err = failure(HEAD + 'services:\n  - name: web\n    ports: [{ port: eighty }]\n    backends: { address: 10.0.0.1 }\n');
  assert.deepEqual(err.format().split('\n'), [
    'lb1.yaml:5:21: services[0].ports[0].port: "eighty" is not allowed; expected an integer 1–65535',
    'lb1.yaml:6:15: services[0].backends: a mapping is not allowed; expected a list of backends',
  ]);
  assert.equal(err.issues.at(0)?.code, ConfigIssueCode.wrongType);
});

test('every problem in the file is reported at once, in file order', () => {
  const err = failure(
    'apiVersion: vipgate.io/v1\n' +
      'kind: AgentConfig\n' +
      'vipInterface: { name: this-name-is-too-long, addresses: [10.200.0.1] }\n' +
      'dataplane: { engine: ebpf }\n' +
      'services:\n' +
      '  - name: web\n' +
      '    pool: missing\n' +
      '    ipFamilies: [IPv4, IPv6]\n' +
      '    ipFamilyPolicy: SingleStack\n' +
      '    ports: [{ port: 80 }]\n' +
      '    backends: [{ address: 10.0.0.1, ports: { http: 8080 } }]\n',
  );
  assert.deepEqual(
    err.issues.map((i) => `${i.line}:${i.column} ${i.path} ${i.code}`),
    [
      '1:13 apiVersion bad-value',
      '3:23 vipInterface.name bad-value',
      '3:58 vipInterface.addresses[0] bad-value',
      '4:22 dataplane.engine bad-value',
      '7:5 services[0].pool conflict',
      '7:11 services[0].pool bad-reference',
      '8:17 services[0].ipFamilies conflict',
      '11:46 services[0].backends[0].ports.http bad-reference',
    ],
  );
  assert.match(err.format(), /dataplane\.engine: "ebpf" is not allowed; expected one of nftables, xdp, userspace/);
  assert.match(err.format(), /services\[0\]\.pool: there is no pool "missing"; expected a pool defined under pools/);
});

test('family rules: a requested address must be of the service families', () => {
  const err = failure(
    HEAD +
      'services:\n' +
      '  - name: web\n' +
      '    type: LoadBalancer\n' +
      '    loadBalancerIPs: [fd00:200::5]\n' +
      '    ports: [{ port: 80 }]\n',
  );
  assert.equal(
    err.format(),
    'lb1.yaml:6:23: services[0].loadBalancerIPs[0]: fd00:200::5 is IPv6, and the service\'s ipFamilies are [IPv4]; expected an address of IPv4',
  );
});

test('overlapping pools are refused: two pools would own one address', () => {
  const err = failure(
    HEAD + 'pools:\n  - { name: a, addresses: [10.200.0.0/16] }\n  - { name: b, addresses: [10.200.1.10-10.200.1.20] }\n',
  );
  assert.equal(
    err.format(),
    'lb1.yaml:5:28: pools[1].addresses[0]: "10.200.1.10-10.200.1.20" overlaps 10.200.0.0-10.200.255.255 at pools[0].addresses[0]; expected address blocks that no other pool entry covers',
  );
});

test('an empty file and a file that is a list are refused with a clear message', () => {
  assert.equal(
    failure('').format(),
    'lb1.yaml:1:1: the file is empty; expected a mapping with at least apiVersion: vipgate.io/v1alpha1 and kind: AgentConfig',
  );
  assert.equal(failure('- a\n').format(), 'lb1.yaml:1:1: a list is not allowed; expected a mapping');
});

test('the minimal file is accepted with every default filled in', () => {
  const cfg = parseConfig(HEAD, 'lb1.yaml', { hostname: 'LB-Host' });
  assert.equal(cfg.nodeName, 'lb-host');
  assert.deepEqual(cfg.api, { listen: '127.0.0.1:9470', host: '127.0.0.1', port: 9470 });
  assert.deepEqual(cfg.vipInterface, { name: 'vipgate0', addresses: [], routes: [] });
  assert.deepEqual(cfg.dataplane, { engine: 'nftables', snat: 'masquerade', denySources: [], resyncSeconds: 30 });
  assert.deepEqual(cfg.pools, []);
  assert.deepEqual(cfg.services, []);
  assert.equal(cfg.bgp, undefined);
});
