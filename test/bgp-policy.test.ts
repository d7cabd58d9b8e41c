// Per-peer export policy against a real BIRD 2: one LB node, two router sessions (tor-a and
// tor-b, two addresses of the router namespace, two BIRD protocols), each told a different set
// with different communities by the config's bgp.advertisements (docs/design/005).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { exportPolicy, poolLookup } from '../src/agent/bgp-announcer-policy.ts';
import { parseConfig, poolsFromConfig, type AgentConfig } from '../src/config/index.ts';
import { formatCidr } from '../src/net/index.ts';
import { LB_V4, ROUTER_V4, SpeakerChild, createBgpLab, eventually, sh, type BgpLab } from './support/bgp-lab.ts';

const ROUTER_B_V4 = '10.10.12.3';
// BIRD locks a session by neighbor address: the second session leaves from a second LB address.
const LB_B_V4 = '10.10.12.4';

const config: AgentConfig = parseConfig(
  `apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
pools:
  - { name: public, addresses: [10.200.0.0/24] }
  - { name: internal, addresses: [10.201.0.0/24] }
bgp:
  routerId: ${LB_V4}
  localASN: 65002
  peers:
    - { name: tor-a, address: ${ROUTER_V4}, asn: 65001, families: [ipv4] }
    - { name: tor-b, address: ${ROUTER_B_V4}, asn: 65001, families: [ipv4], localAddress: ${LB_B_V4} }
  advertisements:
    - { pools: [public], communities: ["65002:100"] }
    - { pools: [internal], peers: [tor-a], aggregationLength: 24, communities: ["65002:200"], largeCommunities: ["65002:0:1"] }
    - { pools: [public], peers: [${ROUTER_B_V4}], communities: ["65002:300"] }
`,
  'policy.yaml',
  { hostname: 'lb1' },
);
const bgp = config.bgp!;

let lab: BgpLab;
let speaker: SpeakerChild;

/** What the agent's BGP announcer would hand the speaker for these servable VIPs. */
async function announce(vips: string[]): Promise<void> {
  const byPeer = exportPolicy(vips, bgp, { poolOf: poolLookup(poolsFromConfig(config)), vipRoutes: [] });
  // The speaker child reads JSON lines: prefixes go as text.
  const asText = [...byPeer].map(([peer, routes]) => [peer, routes.map((r) => ({ ...r, prefix: formatCidr(r.prefix) }))] as const);
  await speaker.call('setPeers', { default: [], byPeer: Object.fromEntries(asText) });
}

const birdRoutes = (protocol: string): Promise<string> => lab.birdc('show', 'route', 'all', 'protocol', protocol);
/** prefix → its community text in BIRD, for the routes learnt over one protocol. */
async function learnt(protocol: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let prefix: string | undefined;
  for (const line of (await birdRoutes(protocol)).split('\n')) {
    const route = /^(\d+\.\d+\.\d+\.\d+\/\d+)\s+unicast/.exec(line);
    if (route !== null) prefix = route[1];
    const community = /BGP\.community: (.*)$/.exec(line);
    if (community !== null && prefix !== undefined) out.set(prefix, community[1]!.trim());
    const large = /BGP\.large_community: (.*)$/.exec(line);
    if (large !== null && prefix !== undefined) out.set(prefix, `${out.get(prefix) ?? ''} large ${large[1]!.trim()}`);
  }
  return out;
}

before(async () => {
  lab = createBgpLab();
  // The second addresses live on the two ends of the same link.
  for (const [ns, address] of [[lab.router, ROUTER_B_V4], [lab.lb, LB_B_V4]] as const) {
    const dev = /^\d+: ([^@:]+)/.exec(sh('ip', '-n', ns, '-o', 'link', 'show', 'type', 'veth'))?.[1];
    assert.ok(dev !== undefined, `${ns} has its veth`);
    sh('ip', '-n', ns, 'addr', 'add', `${address}/24`, 'dev', dev);
  }
  // One BIRD, two sessions with the LB node, one per address pair.
  await lab.startBird(`router id ${ROUTER_V4};
log stderr all;
protocol device { scan time 10; }
template bgp lbnode { local as 65001; hold time 9; keepalive time 3; connect retry time 1;
  ipv4 { import all; export none; }; }
protocol bgp tor_a from lbnode { local ${ROUTER_V4} as 65001; neighbor ${LB_V4} as 65002; }
protocol bgp tor_b from lbnode { local ${ROUTER_B_V4} as 65001; neighbor ${LB_B_V4} as 65002; }
`);
  speaker = new SpeakerChild(lab.lb);
  const timings = { connectRetrySeconds: 1, idleHoldMinSeconds: 1, idleHoldMaxSeconds: 4 };
  await speaker.call('start', {
    speaker: { routerId: bgp.routerId, localAsn: bgp.localASN },
    peers: bgp.peers.map((p) => ({ address: p.address, asn: p.asn, holdTimeSeconds: 9, families: p.families, timings, ...(p.localAddress === undefined ? {} : { localAddress: p.localAddress }) })),
  });
});

after(async () => {
  speaker.kill();
  await speaker.waitExit();
  await lab.destroy();
});

test('two routers get different prefixes and communities from one LB node, as the advertisements say', async () => {
  for (const protocol of ['tor_a', 'tor_b']) {
    try {
      await eventually(async () => /BGP state:\s+Established/.test(await lab.birdc('show', 'protocols', 'all', protocol)), `BIRD ${protocol} Established`);
    } catch (e) {
      console.log(await lab.birdc('show', 'protocols', 'all'), JSON.stringify(await speaker.call('peers')), speaker.stderr.join('\n'));
      throw e;
    }
  }
  await announce(['10.200.0.5/32', '10.201.0.7/32', '10.201.0.8/32']);
  await eventually(async () => (await learnt('tor_a')).size === 2 && (await learnt('tor_b')).size === 1, 'both routers to learn their routes');
  assert.deepEqual(Object.fromEntries(await learnt('tor_a')), {
    '10.200.0.5/32': '(65002,100)',
    // The internal pool goes to tor-a only, aggregated to its /24, with its own communities.
    '10.201.0.0/24': '(65002,200) large (65002, 0, 1)',
  });
  // Two advertisements select 10.200.0.5 for tor-b: one route with both communities.
  assert.deepEqual(Object.fromEntries(await learnt('tor_b')), { '10.200.0.5/32': '(65002,100) (65002,300)' });
  assert.doesNotMatch(await birdRoutes('tor_b'), /10\.201\./);
});

test('the aggregate is withdrawn from tor-a once no VIP in it is servable; tor-b is not touched', async () => {
  const before = (await speaker.call('peers')) as { address: string; updatesSent: number }[];
  await announce(['10.200.0.5/32']);
  await eventually(async () => !(await learnt('tor_a')).has('10.201.0.0/24'), 'the /24 to leave tor-a');
  assert.deepEqual([...(await learnt('tor_a')).keys()], ['10.200.0.5/32']);
  assert.deepEqual([...(await learnt('tor_b')).keys()], ['10.200.0.5/32']);
  const after = (await speaker.call('peers')) as { address: string; updatesSent: number }[];
  const sent = (list: typeof after, address: string): number | undefined => list.find((p) => p.address === address)?.updatesSent;
  assert.equal(sent(after, ROUTER_B_V4), sent(before, ROUTER_B_V4), 'nothing changed for tor-b, so nothing was sent to it');
});
