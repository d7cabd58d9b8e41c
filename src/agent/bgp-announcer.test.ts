import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import type { Advertisement } from '../bgp/index.ts';
import { formatCidr } from '../net/index.ts';
import pino from 'pino';
import type { BgpAdvertisementConfig, BgpConfig } from '../config/index.ts';
import { parseConfig } from '../config/index.ts';
import { bgpAnnouncer, peerConfig } from './bgp-announcer.ts';
import { exportPolicy as parsedExportPolicy } from './bgp-announcer-policy.ts';

/** The policy's routes with their prefixes as text, as an operator reads them. */
function exportPolicy(...args: Parameters<typeof parsedExportPolicy>): Map<string, (Omit<Advertisement, 'prefix'> & { prefix: string })[]> {
  return new Map([...parsedExportPolicy(...args)].map(([peer, routes]) => [peer, routes.map((r) => ({ ...r, prefix: formatCidr(r.prefix) }))]));
}

const everything: BgpAdvertisementConfig = {
  pools: [],
  peers: [],
  aggregationLength: 32,
  aggregationLengthV6: 128,
  aggregateToVipRoutes: false,
  communities: ['65002:100'],
  largeCommunities: [],
};

const base: BgpConfig = {
  routerId: '10.180.1.16',
  localASN: 65002,
  gracefulRestartSeconds: 120,
  peers: [{ address: '10.180.1.1', asn: 65001, port: 179, holdTime: 90, passive: false, families: ['ipv4', 'ipv6'] }],
  advertisements: [everything],
};
const noPools = { poolOf: () => undefined, vipRoutes: [] };

test('the older bgp.advertise block still announces each servable VIP to every peer', () => {
  const cfg = parseConfig(
    `apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
bgp:
  routerId: 10.180.1.16
  localASN: 65002
  peers: [{ address: 10.180.1.1, asn: 65002 }]
  advertise: { communities: ["65002:100"], localPref: 200 }
`,
    'lb1.yaml',
    { hostname: 'lb1' },
  );
  assert.ok(cfg.bgp !== undefined);
  assert.deepEqual(exportPolicy(['10.200.0.5/32', 'fd00:200::2/128'], cfg.bgp, noPools).get('10.180.1.1'), [
    { prefix: '10.200.0.5/32', communities: ['65002:100'], localPref: 200 },
    { prefix: 'fd00:200::2/128', communities: ['65002:100'], localPref: 200 },
  ]);
});

test('advertise.aggregate still announces the covering VIP interface route once, only while a VIP in it is servable', () => {
  const config = { ...base, advertisements: [{ ...everything, aggregateToVipRoutes: true, communities: [] }] };
  const inputs = { poolOf: () => undefined, vipRoutes: ['10.200.0.0/16', 'fd00:200::/64'] };
  assert.deepEqual(exportPolicy(['10.200.0.2/32', '10.200.0.5/32'], config, inputs).get('10.180.1.1'), [{ prefix: '10.200.0.0/16' }]);
  assert.deepEqual(exportPolicy([], config, inputs).get('10.180.1.1'), []);
  // A VIP outside every interface route is still announced, as itself.
  assert.deepEqual(exportPolicy(['10.99.0.1/32'], config, inputs).get('10.180.1.1'), [{ prefix: '10.99.0.1/32' }]);
});

test('a peer config carries multihop and next hops to the speaker', () => {
  const pc = peerConfig({ ...base.peers[0]!, multihop: 3, nextHop: { ipv6: 'fd00:180::16' } }, base);
  assert.equal(pc.multihop, 3);
  assert.deepEqual(pc.nextHop, { ipv6: 'fd00:180::16' });
});

test('the announcer hands each peer its own set: pools looked up from the agent, a changed section re-sends', async () => {
  const peers = [
    { name: 'tor-a', address: '127.0.0.1', asn: 65001, port: 1, holdTime: 90, passive: true, families: ['ipv4' as const] },
    { name: 'tor-b', address: '127.0.0.2', asn: 65001, port: 1, holdTime: 90, passive: true, families: ['ipv4' as const] },
  ];
  const config: BgpConfig = {
    ...base,
    peers,
    advertisements: [
      { ...everything, pools: ['public'], communities: ['65002:1'] },
      { ...everything, pools: ['internal'], peers: ['tor-a'], communities: ['65002:2'] },
    ],
  };
  const pools = [
    { name: 'public', addresses: ['10.200.0.0/24'], autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: false, namespaces: [], reserved: [], priority: 0 },
    { name: 'internal', addresses: ['10.201.0.0/24'], autoAssign: true, avoidBuggyIPs: false, allowExternalIPs: false, namespaces: [], reserved: [], priority: 0 },
  ];
  const announcer = bgpAnnouncer(config, { log: pino({ level: 'silent' }), restarted: false, aggregates: () => [], pools: () => pools });
  const seen: { default: unknown; byPeer: Map<string, readonly Advertisement[]> }[] = [];
  const original = announcer.speaker.setPeerAdvertisements.bind(announcer.speaker);
  announcer.speaker.setPeerAdvertisements = (sets) => {
    seen.push({ default: sets.default, byPeer: new Map(sets.byPeer) });
    original(sets);
  };
  try {
    await announcer.setAdvertisements(['10.200.0.5/32', '10.201.0.7/32']);
    const prefixes = (address: string): string[] => (seen.at(-1)?.byPeer.get(address) ?? []).map((a) => formatCidr(a.prefix));
    assert.deepEqual(prefixes('127.0.0.1'), ['10.200.0.5/32', '10.201.0.7/32']);
    assert.deepEqual(prefixes('127.0.0.2'), ['10.200.0.5/32']);
    // The same servable set again (a backend changed): nothing the policy reads changed, so the
    // speaker is not asked to recompute 10⁴ routes per peer.
    await announcer.setAdvertisements(['10.200.0.5/32', '10.201.0.7/32']);
    assert.equal(seen.length, 1);
    await announcer.setAdvertisements(['10.200.0.5/32']);
    assert.equal(seen.length, 2);
    assert.deepEqual(prefixes('127.0.0.1'), ['10.200.0.5/32']);
    await announcer.setAdvertisements(['10.200.0.5/32', '10.201.0.7/32']);
    const changed = { ...config, advertisements: [{ ...everything, peers: ['127.0.0.2'] }] };
    await announcer.reconfigure(changed);
    assert.equal(seen.length, 4, 'a changed section re-sends');
    assert.deepEqual(prefixes('127.0.0.1'), []);
    assert.deepEqual(prefixes('127.0.0.2'), ['10.200.0.5/32', '10.201.0.7/32']);
    // A reload that changed only services hands on an equal section (a new object): nothing to redo.
    await announcer.reconfigure(structuredClone(changed));
    assert.equal(seen.length, 4, 'an equal section does not re-send');
  } finally {
    await announcer.stop();
  }
});

const bfdHead = `apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
bgp:
  routerId: 10.180.1.16
  localASN: 65002
  peers:
`;

test('the agent passes bfd on to the speaker, and only when on', () => {
  const cfg = parseConfig(`${bfdHead}    - { address: 10.180.1.1, asn: 65001, bfd: { multiplier: 4 } }\n    - { address: 10.180.1.2, asn: 65001 }\n`, 'lb1.yaml', { hostname: 'lb1' });
  const bgp = cfg.bgp;
  assert.ok(bgp !== undefined);
  assert.deepEqual(peerConfig(bgp.peers[0]!, bgp).bfd, { minTxMs: 300, minRxMs: 300, multiplier: 4 });
  assert.equal('bfd' in peerConfig(bgp.peers[1]!, bgp), false);
});

test('a passive peer from the file: the agent listens for it and says whom it waits for, and where', async () => {
  const port = 40000 + Math.floor(Math.random() * 10000);
  const config: BgpConfig = { ...base, peers: [{ address: '127.0.0.72', asn: 65001, port, holdTime: 9, passive: true, localAddress: '127.0.0.71', families: ['ipv4'] }] };
  const announcer = bgpAnnouncer(config, { log: pino({ level: 'silent' }), restarted: false, aggregates: () => [] });
  try {
    assert.equal(announcer.peers()[0]?.lastError, `passive: waiting for 127.0.0.72 to connect to 127.0.0.71:${port}`);
    // Something listens there (once the listener is up: a few refused tries at most).
    const dial = (): Promise<boolean> =>
      new Promise((resolve) => {
        const s = connect({ host: '127.0.0.71', port, localAddress: '127.0.0.72' }, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
    let accepted = false;
    for (let tries = 0; !accepted && tries < 100; tries++) accepted = await dial();
    assert.ok(accepted, `a connection to 127.0.0.71:${port} is accepted`);
  } finally {
    await announcer.stop();
  }
});
