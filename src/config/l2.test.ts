import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ConfigError, ConfigIssueCode } from './errors.ts';
import { parseConfig } from './load.ts';
import { DEFAULT_L2_ANNOUNCE, DEFAULT_L2_BFD, DEFAULT_L2_FAILBACK_HOLD_DOWN_SECONDS } from './types.ts';

const head = `apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
nodeName: lb1
pools:
  - { name: lan, addresses: [192.168.1.240-192.168.1.250, "fd00:1::f0-fd00:1::ff"] }
  - { name: lan2, addresses: [192.168.2.0/28] }
`;

const l2Of = (section: string) => parseConfig(`${head}${section}`, 'lb1.yaml', { hostname: 'ignored' }).l2;

function issues(section: string): ConfigError {
  try {
    parseConfig(`${head}${section}`, 'lb1.yaml', { hostname: 'ignored' });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail('the config was accepted');
}

test('no l2 section: L2 mode is off', () => {
  assert.equal(l2Of(''), undefined);
});

test('an l2 section gets its defaults; advertisements keep their pools and interfaces', () => {
  assert.deepEqual(l2Of('l2:\n  advertisements: [{ interfaces: [eth0] }, { pools: [lan2], interfaces: [eth1, eth1.20] }]\n'), {
    advertisements: [
      { pools: [], interfaces: ['eth0'] },
      { pools: ['lan2'], interfaces: ['eth1', 'eth1.20'] },
    ],
    peers: [],
    announce: DEFAULT_L2_ANNOUNCE,
    failbackHoldDownSeconds: DEFAULT_L2_FAILBACK_HOLD_DOWN_SECONDS,
    bfd: DEFAULT_L2_BFD,
  });
  assert.deepEqual(DEFAULT_L2_ANNOUNCE, { count: 3, intervalMs: 250, periodicSeconds: 0 });
  assert.deepEqual(DEFAULT_L2_BFD, { minTxMs: 100, minRxMs: 100, multiplier: 3 });
  assert.equal(DEFAULT_L2_FAILBACK_HOLD_DOWN_SECONDS, 10);
});

test('given settings win field by field; peer addresses are lists in canonical text; this node is not its own peer', () => {
  const l2 = l2Of(`l2:
  advertisements: [{ pools: [lan], interfaces: [eth0] }]
  peers:
    - { name: lb1, address: 192.168.1.11 }
    - { name: lb2, address: "FD00:1::0012" }
    - { name: lb3, addresses: [192.168.1.13, "fd00:1:0::13"] }
  announce: { count: 5, periodicSeconds: 60 }
  failbackHoldDownSeconds: 0
  bfd: { minTxMs: 50, multiplier: 5 }
`);
  assert.deepEqual(l2?.peers, [
    { name: 'lb2', addresses: ['fd00:1::12'] },
    { name: 'lb3', addresses: ['192.168.1.13', 'fd00:1::13'] },
  ]);
  assert.deepEqual(l2.announce, { count: 5, intervalMs: 250, periodicSeconds: 60 });
  assert.equal(l2.failbackHoldDownSeconds, 0);
  assert.deepEqual(l2.bfd, { minTxMs: 50, minRxMs: 100, multiplier: 5 });
});

test('the node without a nodeName is its host name, lower-cased, and drops the peer of that name', () => {
  const cfg = parseConfig(
    'apiVersion: vipgate.io/v1alpha1\nkind: AgentConfig\nl2:\n  advertisements: [{ interfaces: [eth0] }]\n  peers: [{ name: lb1, address: 10.0.0.1 }, { name: lb2, address: 10.0.0.2 }]\n',
    'lb1.yaml',
    { hostname: 'LB1' },
  );
  assert.deepEqual(cfg.l2?.peers.map((p) => p.name), ['lb2']);
});

test('every node of a copied l2 section sees the others as peers, never itself', () => {
  const names = ['lb1', 'lb2', 'lb3'];
  const section = `l2:\n  advertisements: [{ interfaces: [eth0] }]\n  peers:\n${names.map((n, i) => `    - { name: ${n}, address: 192.168.1.${11 + i} }\n`).join('')}`;
  fc.assert(
    fc.property(fc.constantFrom(...names, 'lb4'), (self) => {
      const cfg = parseConfig(`apiVersion: vipgate.io/v1alpha1\nkind: AgentConfig\nnodeName: ${self}\n${section}`, 'x.yaml', { hostname: 'h' });
      assert.deepEqual(cfg.l2?.peers.map((p) => p.name), names.filter((n) => n !== self));
    }),
  );
});

test('a file without pools (Kubernetes mode) may name any pool in l2 advertisements', () => {
  const cfg = parseConfig('apiVersion: vipgate.io/v1alpha1\nkind: AgentConfig\nl2:\n  advertisements: [{ pools: [from-the-cluster], interfaces: [eth0] }]\n', 'x.yaml', { hostname: 'h' });
  assert.deepEqual(cfg.l2?.advertisements[0]?.pools, ['from-the-cluster']);
});

test('advertisements are required, non-empty, and each needs interfaces; unknown pools and bad names are refused', () => {
  assert.match(issues('l2: {}\n').format(), /^lb1\.yaml:7:5: l2\.advertisements: required field is missing; expected a non-empty list of advertisements \(pools and interfaces\)$/);
  assert.match(issues('l2: { advertisements: [] }\n').format(), /^lb1\.yaml:7:23: l2\.advertisements: an empty list is not allowed; expected a non-empty list/);
  const err = issues(`l2:
  advertisements:
    - { pools: [lan, lam], interfaces: [eth0, "averyveryverylongname", "a/b"] }
    - { pools: [lan] }
    - { interfaces: [] }
    - { interfaces: [eth0], peers: [lb2] }
`);
  const lines = err.format();
  assert.match(lines, /lb1\.yaml:9:22: l2\.advertisements\[0\]\.pools\[1\]: no pool is named "lam"; expected a name from pools: lan, lan2/);
  assert.match(lines, /l2\.advertisements\[0\]\.interfaces\[1\]: "averyveryverylongname" is longer than 15 bytes; expected a Linux interface name: 1–15 bytes/);
  assert.match(lines, /l2\.advertisements\[0\]\.interfaces\[2\]: "a\/b" contains "\/", ":" or white space/);
  assert.match(lines, /lb1\.yaml:10:7: l2\.advertisements\[1\]\.interfaces: required field is missing; expected a non-empty list of interface names/);
  assert.match(lines, /l2\.advertisements\[2\]\.interfaces: an empty list is not allowed; expected a non-empty list of interface names/);
  assert.match(lines, /l2\.advertisements\[3\]\.peers: unknown field; expected one of the fields pools, interfaces/);
  assert.equal(err.issues.find((i) => i.path === 'l2.advertisements[0].pools[1]')?.code, ConfigIssueCode.badReference);
  assert.equal(err.issues.find((i) => i.path === 'l2.advertisements[0].pools[1]')?.value, 'lam');
});

test('peers: names and addresses unique, one address field, one address per family', () => {
  const err = issues(`l2:
  advertisements: [{ interfaces: [eth0] }]
  peers:
    - { name: lb2 }
    - { name: lb2, address: 192.168.1.12, addresses: [192.168.1.13] }
    - { name: lb3, addresses: [192.168.1.14, "fd00:1::14", "fd00:1::15"] }
    - { name: lb4, addresses: [192.168.1.16, 192.168.1.17] }
    - { name: lb5, address: 192.168.1.016 }
    - { name: lb6, address: "FD00:1::14", port: 3784 }
    - { name: LB7, address: 192.168.1.18 }
    - { address: 192.168.1.19 }
`);
  const lines = err.format().split('\n');
  const line = (path: string) => lines.find((l) => l.includes(`: ${path}: `)) ?? `(no line for ${path})`;
  assert.equal(line('l2.peers[0].address'), 'lb1.yaml:10:7: l2.peers[0].address: required field is missing: a peer needs its address on the L2 segment; expected address: 192.168.1.12, or addresses: [192.168.1.12, "fd00:1::12"] (one per family)');
  assert.equal(line('l2.peers[1].name'), 'lb1.yaml:11:15: l2.peers[1].name: peer name "lb2" is already used at l2.peers[0].name; expected a unique value');
  assert.match(line('l2.peers[1].addresses'), /: address and addresses are both set; expected one of them: address \(one address\) or addresses \(one per family\)$/);
  assert.match(line('l2.peers[2].addresses'), /: a list of 3 is too long; expected a list of 1–2 IP addresses, one per family$/);
  assert.match(line('l2.peers[2].addresses[2]'), /: fd00:1::15 is this peer's second IPv6 address \(the first is l2\.peers\[2\]\.addresses\[1\]\); expected one address per family/);
  assert.match(line('l2.peers[3].addresses[1]'), /: 192\.168\.1\.17 is this peer's second IPv4 address \(the first is l2\.peers\[3\]\.addresses\[0\]\)/);
  assert.match(line('l2.peers[4].address'), /"192\.168\.1\.016".*; expected an IPv4 or IPv6 address/);
  assert.equal(line('l2.peers[5].address'), 'lb1.yaml:15:29: l2.peers[5].address: peer address fd00:1::14 is already used at l2.peers[2].addresses[1]; expected a unique value');
  assert.match(line('l2.peers[5].port'), /: unknown field; expected one of the fields name, address, addresses$/);
  assert.match(line('l2.peers[6].name'), /: "LB7" is not allowed; expected a DNS subdomain/);
  assert.match(line('l2.peers[7].name'), /: required field is missing/);
  assert.equal(err.issues.find((i) => i.path === 'l2.peers[5].address')?.code, ConfigIssueCode.duplicate);
});

test('announce, failbackHoldDownSeconds and bfd out of range are refused with what is allowed', () => {
  const lines = issues(`l2:
  advertisements: [{ interfaces: [eth0] }]
  announce: { count: 11, intervalMs: 9, periodicSeconds: 3601, jitter: 1 }
  failbackHoldDownSeconds: 3601
  bfd: { minTxMs: 5, minRxMs: 60001, multiplier: 0, enabled: true }
`).format();
  assert.match(lines, /l2\.announce\.count: 11 is not allowed; expected an integer 1–10/);
  assert.match(lines, /l2\.announce\.intervalMs: 9 is not allowed; expected milliseconds 10–10000/);
  assert.match(lines, /l2\.announce\.periodicSeconds: 3601 is not allowed; expected seconds: 0 \(never\), or 1–3600/);
  assert.match(lines, /l2\.announce\.jitter: unknown field/);
  assert.match(lines, /l2\.failbackHoldDownSeconds: 3601 is not allowed; expected seconds 0–3600/);
  assert.match(lines, /l2\.bfd\.minTxMs: 5 is not allowed; expected milliseconds 10–60000/);
  assert.match(lines, /l2\.bfd\.minRxMs: 60001 is not allowed; expected milliseconds 10–60000/);
  assert.match(lines, /l2\.bfd\.multiplier: 0 is not allowed; expected an integer 1–255/);
  assert.match(lines, /l2\.bfd\.enabled: unknown field; expected one of the fields minTxMs, minRxMs, multiplier/);
  // The limits are inclusive.
  const edge = l2Of('l2:\n  advertisements: [{ interfaces: [eth0] }]\n  announce: { count: 10, intervalMs: 10000, periodicSeconds: 3600 }\n  failbackHoldDownSeconds: 3600\n  bfd: { minTxMs: 10, minRxMs: 60000, multiplier: 255 }\n');
  assert.deepEqual([edge?.announce, edge?.failbackHoldDownSeconds, edge?.bfd], [{ count: 10, intervalMs: 10000, periodicSeconds: 3600 }, 3600, { minTxMs: 10, minRxMs: 60000, multiplier: 255 }]);
});

test('a misspelt l2 field is caught with a suggestion', () => {
  const err = issues('l2:\n  advertisements: [{ interfaces: [eth0] }]\n  failbackHolddownSeconds: 5\n');
  assert.equal(err.format(), 'lb1.yaml:9:3: l2.failbackHolddownSeconds: unknown field; expected one of the fields advertisements, peers, announce, failbackHoldDownSeconds, bfd; did you mean `failbackHoldDownSeconds`?');
});

test('the l2 example in docs/config.md is a valid l2 section', async () => {
  const { readFile } = await import('node:fs/promises');
  const doc = await readFile(new URL('../../docs/config.md', import.meta.url), 'utf8');
  const block = /\(`examples\/lb1-l2\.yaml` is a whole file\):\n\n```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block !== undefined, 'docs/config.md has the l2 example after the section\'s table');
  const peersOn = (node: string) => parseConfig(`apiVersion: vipgate.io/v1alpha1\nkind: AgentConfig\nnodeName: ${node}\npools: [{ name: lan, addresses: [192.168.1.240-192.168.1.250] }]\n${block}`, 'docs/config.md', { hostname: 'h' }).l2?.peers;
  assert.deepEqual(peersOn('lb1')?.map((p) => p.name), ['lb2', 'lb3']);
  assert.deepEqual(peersOn('lb3'), [
    { name: 'lb1', addresses: ['192.168.1.11'] },
    { name: 'lb2', addresses: ['192.168.1.12'] },
  ]);
});
