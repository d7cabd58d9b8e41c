import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from './errors.ts';
import { parseConfig } from './load.ts';

const head = `apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
`;

test('a bgp section gets its defaults and canonical addresses', () => {
  const cfg = parseConfig(
    `${head}bgp:
  routerId: 10.180.1.16
  localASN: 65002
  peers:
    - { address: 10.180.1.1, asn: 65001 }
    - { address: "FD00:180:1::1", asn: 65001, holdTime: 9, password: s3cret, families: [ipv6] }
  advertise: { communities: ["65002:100"] }
`,
    'lb1.yaml',
    { hostname: 'lb1' },
  );
  assert.deepEqual(cfg.bgp, {
    routerId: '10.180.1.16',
    localASN: 65002,
    gracefulRestartSeconds: 120,
    peers: [
      { address: '10.180.1.1', asn: 65001, port: 179, holdTime: 90, passive: false, families: ['ipv4', 'ipv6'] },
      { address: 'fd00:180:1::1', asn: 65001, port: 179, holdTime: 9, passive: false, password: 's3cret', families: ['ipv6'] },
    ],
    advertise: { aggregate: false, communities: ['65002:100'], largeCommunities: [] },
  });
});

test('bad bgp settings are named with their line, field and the rule', () => {
  const text = `${head}bgp:
  routerId: fd00::1
  localASN: 23456
  peers:
    - { address: 10.180.1.1, asn: 65001, holdTime: 2 }
    - { address: 10.180.1.1, asn: 65001 }
    - { address: 10.180.1.2, asn: 65001, misspelt: true }
  advertise: { communities: ["65002:100:1"] }
`;
  let error: unknown;
  try {
    parseConfig(text, 'lb1.yaml', { hostname: 'lb1' });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError);
  const lines = error.format();
  assert.match(lines, /lb1\.yaml:4:13: bgp\.routerId: fd00::1 is not allowed; expected an IPv4 address/);
  assert.match(lines, /lb1\.yaml:5:13: bgp\.localASN: .*AS_TRANS/);
  assert.match(lines, /lb1\.yaml:7:\d+: bgp\.peers\[0\]\.holdTime: 2 is not allowed/);
  assert.match(lines, /lb1\.yaml:8:\d+: bgp\.peers\[1\]\.address: .*bgp\.peers\[0\]\.address/);
  assert.match(lines, /bgp\.peers\[2\]\.misspelt: unknown field/);
  assert.match(lines, /bgp\.advertise\.communities\[0\]: .*RFC 1997/);
});
