import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from './errors.ts';
import { parseConfig } from './load.ts';

const head = `apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
bgp:
  routerId: 10.180.1.16
  localASN: 65002
  peers:
`;

const peersOf = (peers: string) => parseConfig(`${head}${peers}`, 'lb1.yaml', { hostname: 'lb1' }).bgp?.peers;

test('bgp.peers[].bfd: off unless given; a mapping turns it on with 300 ms × 3 unless enabled: false', () => {
  const peers = peersOf(`    - { address: 10.180.1.1, asn: 65001 }
    - { address: 10.180.1.2, asn: 65001, bfd: {} }
    - { address: 10.180.1.3, asn: 65001, bfd: { minTxMs: 100, minRxMs: 200, multiplier: 5 } }
    - { address: 10.180.1.4, asn: 65001, bfd: { enabled: false, minTxMs: 100 } }
`);
  assert.deepEqual(
    peers?.map((p) => p.bfd),
    [undefined, { minTxMs: 300, minRxMs: 300, multiplier: 3 }, { minTxMs: 100, minRxMs: 200, multiplier: 5 }, undefined],
  );
});

test('bad bfd settings are named with the field and what is allowed', () => {
  let error: unknown;
  try {
    peersOf(`    - { address: 10.180.1.1, asn: 65001, bfd: { minTxMs: 5, minRxMs: 1.5, multiplier: 0, detect: 3 } }\n`);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError);
  const lines = error.format();
  assert.match(lines, /bgp\.peers\[0\]\.bfd\.minTxMs: 5 is not allowed; expected milliseconds 10–60000/);
  assert.match(lines, /bgp\.peers\[0\]\.bfd\.minRxMs: .*milliseconds 10–60000/);
  assert.match(lines, /bgp\.peers\[0\]\.bfd\.multiplier: 0 is not allowed; expected an integer 1–255/);
  assert.match(lines, /bgp\.peers\[0\]\.bfd\.detect: unknown field/);
});
