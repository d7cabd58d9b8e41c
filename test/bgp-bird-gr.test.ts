// RFC 4724 graceful restart with vipgate as the restarting speaker and BIRD 2 as the router:
// a crashed speaker's routes stay in BIRD and the kernel until it comes back; its End-of-RIB
// then flushes only what it no longer announces.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LB_V4, ROUTER_V4, SpeakerChild, createBgpLab, eventually, routerBirdConfig, type BgpLab } from './support/bgp-lab.ts';

let lab: BgpLab;
const children: SpeakerChild[] = [];

before(async () => {
  lab = createBgpLab();
  await lab.startBird(routerBirdConfig());
});

after(async () => {
  for (const c of children) {
    c.kill();
    await c.waitExit();
  }
  await lab.destroy();
});

async function speaker(restarted: boolean, routes: string[]): Promise<SpeakerChild> {
  const child = new SpeakerChild(lab.lb);
  children.push(child);
  await child.call('start', {
    speaker: { routerId: LB_V4, localAsn: 65002, restarted },
    peers: [{ address: ROUTER_V4, asn: 65001, holdTimeSeconds: 9, gracefulRestartSeconds: 60, families: ['ipv4'], timings: { connectRetrySeconds: 1, idleHoldMinSeconds: 1, idleHoldMaxSeconds: 2 } }],
  });
  await child.call('set', { routes: routes.map((prefix) => ({ prefix })) });
  return child;
}

const kernel = async (): Promise<string> => lab.routerRoutes(4);

test('routes survive a speaker crash and restart; End-of-RIB flushes the stale ones', async () => {
  const first = await speaker(false, ['10.200.0.5/32', '10.200.0.6/32']);
  await eventually(async () => (await kernel()).includes('10.200.0.5 via') && (await kernel()).includes('10.200.0.6 via'), 'both routes in the router kernel');

  first.kill(); // a crash: no CEASE, the kernel just closes the TCP connection
  await first.waitExit();
  await eventually(async () => /BGP state:\s+(?!Established)/.test(await lab.birdc('show', 'protocols', 'all', 'lb1')), 'BIRD to notice the drop');
  // Without graceful restart the routes would be gone now; with it they stay (stale) in BIRD and the kernel.
  for (let i = 0; i < 10; i++) {
    const routes = await kernel();
    assert.ok(routes.includes('10.200.0.5 via') && routes.includes('10.200.0.6 via'), `routes kept during the restart (check ${i})`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(await lab.birdc('show', 'protocols', 'all', 'lb1'), /Neighbor graceful restart active/);

  // The restarted speaker announces only 10.200.0.5; its End-of-RIB makes BIRD drop 10.200.0.6.
  const second = await speaker(true, ['10.200.0.5/32']);
  let sawGap = false;
  await eventually(async () => {
    const routes = await kernel();
    if (!routes.includes('10.200.0.5 via')) sawGap = true;
    return !routes.includes('10.200.0.6 via');
  }, 'the stale 10.200.0.6 flushed after End-of-RIB', 20_000, 50);
  assert.ok(!sawGap, '10.200.0.5 never left the kernel');
  assert.ok((await kernel()).includes('10.200.0.5 via'));
  await second.call('stop');
});
