// Export policy through the real agent (the file's bgp.advertisements, the agent's pools): in the
// BGP walk-through lb1 announces only its IPv4 pool, aggregated to /24s with a community, while
// lb2 keeps the default (every VIP as itself). Read back from BIRD and from `vipgate bgp`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { bgpDemoConfig, startBgpWalkthrough, type BgpWalkthroughLab } from '../lab/scenario-bgp.ts';
import { DEMO } from '../lab/topologies.ts';
import { eventually } from './support/eventually.ts';

let w: BgpWalkthroughLab;

before(async () => {
  w = await startBgpWalkthrough({
    config: (node) =>
      bgpDemoConfig(node, node === 'lb1' ? { advertisements: [{ pools: ['default'], aggregationLength: 24, communities: ['65002:777'] }] } : {}),
  });
});

after(async () => {
  await (w as BgpWalkthroughLab | undefined)?.down();
});

test('lb1 announces its IPv4 pool as a /24 with its community, and no IPv6 VIP; lb2 announces every VIP as itself', async () => {
  const view = await w.lb1.waitForServices((v) => v.services.length >= 4);
  const v4 = [...new Set(view.services.map((s) => s.address).filter((a) => !a.includes(':')))];
  const v6 = [...new Set(view.services.map((s) => s.address).filter((a) => a.includes(':')))];
  assert.ok(v4.length > 0 && v6.length > 0, 'the demo has VIPs of both families');
  const aggregates = [...new Set(v4.map((a) => `${a.split('.').slice(0, 3).join('.')}.0/24`))].sort();
  await eventually(
    'the router to learn lb1 aggregates and lb2 host routes',
    async () => {
      const routes = await w.birdRoutes();
      return aggregates.every((p) => routes.get(p)?.join() === DEMO.lbNode.v4) && v4.every((a) => routes.get(`${a}/32`)?.join() === DEMO.lbNode2.v4);
    },
    20_000,
  );
  const routes = await w.birdRoutes();
  for (const a of v6) assert.deepEqual(routes.get(`${a}/128`), [DEMO.lbNode2.v6], `${a} only via lb2 (lb1's advertisement selects the IPv4 pool)`);
  for (const p of aggregates) {
    const all = await w.bird.birdc(['show', 'route', 'all', 'for', p]);
    assert.match(all, /BGP\.community: \(65002,777\)/, `${p} carries lb1's community`);
  }
  const told = JSON.parse(await w.lb1.vipgate(['bgp', 'routes', '-o', 'json'])) as { peers: { address: string; routes: { prefix: string; communities: string[] }[] }[] };
  const toV4 = told.peers.find((p) => p.address === DEMO.router.datacenter.v4)?.routes ?? [];
  assert.deepEqual(toV4.map((r) => r.prefix), aggregates);
  // What lb1 says it sent is what BIRD received: the advertisement's community on every route.
  for (const r of toV4) assert.deepEqual(r.communities, ['65002:777'], `${r.prefix} as lb1 reports it`);
  assert.deepEqual(told.peers.find((p) => p.address === DEMO.router.datacenter.v6)?.routes, []);
});
