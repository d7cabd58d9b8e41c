// Interop: vipgate's BGP speaker against a real BIRD 2 in network namespaces (root).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LB_V4, LB_V6, ROUTER_V4, SpeakerChild, createBgpLab, eventually, routerBirdConfig, type BgpLab } from './support/bgp-lab.ts';

let lab: BgpLab;
let speaker: SpeakerChild;

before(async () => {
  lab = createBgpLab();
  await lab.startBird(routerBirdConfig());
  speaker = new SpeakerChild(lab.lb);
  await speaker.call('start', {
    speaker: { routerId: LB_V4, localAsn: 65002 },
    peers: [{ address: ROUTER_V4, asn: 65001, holdTimeSeconds: 9, nextHop: { ipv6: LB_V6 }, timings: { connectRetrySeconds: 1, idleHoldMinSeconds: 1, idleHoldMaxSeconds: 4 } }],
  });
});

after(async () => {
  speaker.kill();
  await speaker.waitExit();
  await lab.destroy();
});

const established = async (): Promise<boolean> => /BGP state:\s+Established/.test(await lab.birdc('show', 'protocols', 'all', 'lb1'));
const inKernel = async (family: 4 | 6, prefix: string): Promise<string | undefined> =>
  (await lab.routerRoutes(family)).split('\n').find((l) => l.startsWith(`${prefix} `));

test('the session reaches Established in BIRD', async () => {
  await eventually(established, 'BIRD to show lb1 Established');
  const peers = (await speaker.call('peers')) as { state: string; holdTimeSeconds: number }[];
  assert.equal(peers[0]?.state, 'Established');
  assert.equal(peers[0].holdTimeSeconds, 9);
});

test('an announced /32 appears in BIRD and in the router kernel table, via the LB node', async () => {
  await speaker.call('set', { routes: [{ prefix: '10.200.0.5/32', communities: ['65002:100'], largeCommunities: ['65002:1:2'] }] });
  await eventually(async () => (await inKernel(4, '10.200.0.5')) !== undefined, '10.200.0.5 in the router kernel');
  const bird = await lab.birdc('show', 'route', 'all', 'for', '10.200.0.5/32');
  assert.match(bird, /10\.200\.0\.5\/32\s+unicast \[lb1 /);
  assert.match(bird, /BGP\.as_path: 65002/);
  assert.match(bird, /BGP\.community: \(65002,100\)/);
  assert.match(bird, /BGP\.large_community: \(65002, 1, 2\)/);
  assert.match((await inKernel(4, '10.200.0.5'))!, new RegExp(`via ${LB_V4.replaceAll('.', '\\.')} .*proto bird`));
});

test('a withdraw removes it from BIRD and the kernel', async () => {
  await speaker.call('set', { routes: [] });
  await eventually(async () => (await inKernel(4, '10.200.0.5')) === undefined, '10.200.0.5 gone from the kernel');
  assert.match(await lab.birdc('show', 'route', 'for', '10.200.0.5/32'), /Network not found/);
  assert.ok(await established(), 'the session stays up');
});

test('an IPv6 VIP over MP-BGP appears with the LB node as IPv6 next hop', async () => {
  await speaker.call('set', { routes: [{ prefix: '10.200.0.5/32' }, { prefix: 'fd00:200::5/128' }] });
  await eventually(async () => (await inKernel(6, 'fd00:200::5')) !== undefined, 'fd00:200::5 in the router kernel');
  assert.match((await inKernel(6, 'fd00:200::5'))!, new RegExp(`via ${LB_V6} .*proto bird`));
  await eventually(async () => (await inKernel(4, '10.200.0.5')) !== undefined, '10.200.0.5 back');
});

test('stop sends CEASE: BIRD drops the routes at once and shows the shutdown message', async () => {
  const start = performance.now();
  await speaker.call('stop', { message: 'vipgate lab stop' });
  const gone = await eventually(async () => (await inKernel(4, '10.200.0.5')) === undefined && (await inKernel(6, 'fd00:200::5')) === undefined, 'routes gone', 3000, 20);
  const elapsed = performance.now() - start;
  // A hold timer expiry would take 9 s; a CEASE takes a round trip.
  assert.ok(elapsed < 1500, `routes gone after ${Math.round(elapsed)} ms (${Math.round(gone)} ms of polling)`);
  const proto = await lab.birdc('show', 'protocols', 'all', 'lb1');
  assert.doesNotMatch(proto, /BGP state:\s+Established/);
  assert.match(proto, /Administrative shutdown/i);
  assert.match(proto, /vipgate lab stop/);
});
