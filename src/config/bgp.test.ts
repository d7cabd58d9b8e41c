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
    advertisements: [{ pools: [], peers: [], aggregationLength: 32, aggregationLengthV6: 128, aggregateToVipRoutes: false, communities: ['65002:100'], largeCommunities: [] }],
    drain: { localPref: 0, asPathPrepend: 3, timeoutSeconds: 30, quietSeconds: 2 },
  });
});

test('bgp.advertisements and the new peer fields get their defaults; peer addresses in advertisements become canonical', () => {
  const cfg = parseConfig(
    `${head}pools: [{ name: public, addresses: [10.200.0.0/24] }]
bgp:
  routerId: 10.180.1.16
  localASN: 65002
  peers:
    - { name: tor-a, address: 10.180.1.1, asn: 65001, multihop: 3, nextHop: { ipv6: "FD00:180::16" } }
    - { address: "fd00:180:1::1", asn: 65001 }
  advertisements:
    - { pools: [public], peers: [tor-a, "FD00:180:1::1"], aggregationLength: 24, communities: ["65002:1"], med: 5 }
    - {}
`,
    'lb1.yaml',
    { hostname: 'lb1' },
  );
  assert.deepEqual(cfg.bgp?.peers[0], {
    name: 'tor-a',
    address: '10.180.1.1',
    asn: 65001,
    port: 179,
    holdTime: 90,
    passive: false,
    families: ['ipv4', 'ipv6'],
    multihop: 3,
    nextHop: { ipv6: 'fd00:180::16' },
  });
  assert.deepEqual(cfg.bgp.advertisements, [
    { pools: ['public'], peers: ['tor-a', 'fd00:180:1::1'], aggregationLength: 24, aggregationLengthV6: 128, aggregateToVipRoutes: false, communities: ['65002:1'], largeCommunities: [], med: 5 },
    { pools: [], peers: [], aggregationLength: 32, aggregationLengthV6: 128, aggregateToVipRoutes: false, communities: [], largeCommunities: [] },
  ]);
});

test('advertise.aggregate becomes aggregateToVipRoutes; advertisements: [] announces nothing', () => {
  const bgp = (extra: string) => parseConfig(`${head}bgp:\n  routerId: 10.180.1.16\n  localASN: 65002\n${extra}`, 'lb1.yaml', { hostname: 'lb1' }).bgp;
  assert.equal(bgp('  advertise: { aggregate: true }\n')?.advertisements[0]?.aggregateToVipRoutes, true);
  assert.deepEqual(bgp('  advertisements: []\n')?.advertisements, []);
});

function issues(text: string): string {
  try {
    parseConfig(text, 'lb1.yaml', { hostname: 'lb1' });
  } catch (e) {
    if (e instanceof ConfigError) return e.format();
    throw e;
  }
  assert.fail('the config was accepted');
}

test('bad advertisements name the field, the value and what is allowed', () => {
  const lines = issues(`${head}pools: [{ name: public, addresses: [10.200.0.0/24] }, { name: internal, addresses: [10.201.0.0/24] }]
bgp:
  routerId: 10.180.1.16
  localASN: 65002
  peers: [{ name: tor-a, address: 10.180.1.1, asn: 65001 }]
  advertisements:
    - { pools: [publc], peers: [tor-b, 10.180.1.2], aggregationLength: 33, aggregationLengthV6: 129 }
`);
  assert.match(lines, /lb1\.yaml:9:\d+: bgp\.advertisements\[0\]\.pools\[0\]: no pool is named "publc"; expected a name from pools: public, internal/);
  assert.match(lines, /bgp\.advertisements\[0\]\.peers\[0\]: no peer is named or addressed "tor-b"; expected a name or address from bgp\.peers: tor-a, 10\.180\.1\.1/);
  assert.match(lines, /bgp\.advertisements\[0\]\.peers\[1\]: no peer is named or addressed "10\.180\.1\.2"/);
  assert.match(lines, /bgp\.advertisements\[0\]\.aggregationLength: 33 is not allowed; expected an IPv4 prefix length 0–32/);
  assert.match(lines, /bgp\.advertisements\[0\]\.aggregationLengthV6: 129 is not allowed; expected an IPv6 prefix length 0–128/);
});

test('a file without pools (Kubernetes mode) may name any pool', () => {
  const cfg = parseConfig(`${head}bgp:\n  routerId: 10.180.1.16\n  localASN: 65002\n  advertisements: [{ pools: [from-the-cluster] }]\n`, 'lb1.yaml', { hostname: 'lb1' });
  assert.deepEqual(cfg.bgp?.advertisements[0]?.pools, ['from-the-cluster']);
});

test('multihop is refused on iBGP and with BFD; both advertise forms at once are refused; peer names are unique', () => {
  const lines = issues(`${head}bgp:
  routerId: 10.180.1.16
  localASN: 65002
  peers:
    - { name: a, address: 10.180.1.1, asn: 65002, multihop: 2 }
    - { name: a, address: 10.180.1.2, asn: 65001, multihop: 4, bfd: {} }
    - { address: 10.180.1.3, asn: 65001, multihop: 1, nextHop: { ipv4: "fd00::1" } }
  advertise: {}
  advertisements: []
`);
  assert.match(lines, /bgp\.peers\[0\]\.multihop: multihop applies to eBGP peers only; expected no multihop for an iBGP peer/);
  assert.match(lines, /bgp\.peers\[1\]\.multihop: multihop cannot be combined with bfd; expected either multihop or bfd/);
  assert.match(lines, /bgp\.peers\[1\]\.name: peer name is already used at bgp\.peers\[0\]\.name/);
  assert.match(lines, /bgp\.peers\[2\]\.multihop: 1 is not allowed; expected an IP TTL 2–255/);
  assert.match(lines, /bgp\.peers\[2\]\.nextHop\.ipv4: fd00::1 is not an IPv4 address/);
  assert.match(lines, /bgp\.advertisements: bgp\.advertise and bgp\.advertisements are both set/);
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

test('an aggregate wider than a selected pool\'s blocks is refused (the router would be told of addresses outside the pool)', () => {
  const lines = issues(`${head}pools:
  - { name: public, addresses: [10.200.0.0/24, "fd00:200::/64"] }
  - { name: small, addresses: [10.201.1.10-10.201.1.20] }
bgp:
  routerId: 10.180.1.16
  localASN: 65002
  advertisements:
    - { pools: [public], aggregationLength: 16, aggregationLengthV6: 48 }
    - { pools: [small], aggregationLength: 24 }
    - { aggregationLength: 8 }
    - { pools: [public], aggregationLength: 24, aggregationLengthV6: 64 }
`);
  assert.match(lines, /bgp\.advertisements\[0\]\.aggregationLength: 16 would announce more than pool "public" holds: its block 10\.200\.0\.0\/24 is a \/24; expected a length of 24 or more/);
  assert.match(lines, /bgp\.advertisements\[0\]\.aggregationLengthV6: 48 would announce more than pool "public" holds: its block fd00:200::\/64 is a \/64/);
  // The range is the blocks .10/31, .12/30, .16/30, .20/32: only host routes stay inside it.
  assert.match(lines, /bgp\.advertisements\[1\]\.aggregationLength: 24 would announce more than pool "small" holds: its block 10\.201\.1\.20\/32 is a \/32; expected a length of 32 or more/);
  // No pools named: every pool of the file is checked.
  assert.match(lines, /bgp\.advertisements\[2\]\.aggregationLength: 8 would announce more than pool "public"/);
  assert.doesNotMatch(lines, /advertisements\[3\]/);
});


test('the bgp.advertisements example in docs/config.md is a valid bgp section', async () => {
  const { readFile } = await import('node:fs/promises');
  const doc = await readFile(new URL('../../docs/config.md', import.meta.url), 'utf8');
  const block = /Peers that no advertisement names get nothing\.\n\n```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block !== undefined, 'docs/config.md has the advertisements example after the merge rules');
  const cfg = parseConfig(`${head}pools:\n  - { name: public, addresses: [10.200.0.0/24] }\n  - { name: internal, addresses: [10.201.0.0/24] }\n${block}`, 'docs/config.md', { hostname: 'h' });
  assert.deepEqual(
    cfg.bgp?.advertisements.map((a) => [a.pools, a.peers, a.aggregationLength]),
    [
      [['public'], [], 32],
      [['internal'], ['tor-a'], 24],
    ],
  );
});

test('bgp.drain and a peer\'s drain: given fields over the defaults; out-of-range values refused with what is allowed', () => {
  const cfg = parseConfig(
    'apiVersion: vipgate.io/v1alpha1\nkind: AgentConfig\nbgp:\n  routerId: 10.180.1.16\n  localASN: 65002\n  peers: [{ address: 10.180.1.1, asn: 65001, drain: { med: 900 } }]\n  drain: { asPathPrepend: 1, timeoutSeconds: 60 }\n',
    'lb1.yaml',
    { hostname: 'lb1' },
  );
  assert.deepEqual(cfg.bgp?.drain, { localPref: 0, asPathPrepend: 1, timeoutSeconds: 60, quietSeconds: 2 });
  assert.deepEqual(cfg.bgp.peers[0]?.drain, { med: 900 });
  assert.throws(
    () => parseConfig('apiVersion: vipgate.io/v1alpha1\nkind: AgentConfig\nbgp:\n  routerId: 10.180.1.16\n  localASN: 65002\n  drain: { asPathPrepend: 11 }\n', 'lb1.yaml', { hostname: 'lb1' }),
    /bgp\.drain\.asPathPrepend.*extra copies of our AS 0–10/,
  );
});
