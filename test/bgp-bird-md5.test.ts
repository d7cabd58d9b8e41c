// RFC 2385 TCP MD5 against BIRD 2's `password`: the right key gets a session, a wrong one none.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LB_V4, ROUTER_V4, SpeakerChild, createBgpLab, eventually, routerBirdConfig, type BgpLab } from './support/bgp-lab.ts';

let lab: BgpLab;
const children: SpeakerChild[] = [];

before(async () => {
  lab = createBgpLab();
  await lab.startBird(routerBirdConfig('password "vipgate-s3cret";'));
});

after(async () => {
  for (const c of children) {
    c.kill();
    await c.waitExit();
  }
  await lab.destroy();
});

async function speakerWith(password: string): Promise<SpeakerChild> {
  const child = new SpeakerChild(lab.lb);
  children.push(child);
  await child.call('start', {
    speaker: { routerId: LB_V4, localAsn: 65002 },
    peers: [{ address: ROUTER_V4, asn: 65001, holdTimeSeconds: 9, password, timings: { connectRetrySeconds: 1, idleHoldMinSeconds: 1, idleHoldMaxSeconds: 2 } }],
  });
  return child;
}

const birdState = async (): Promise<string> => /BGP state:\s+(\w+)/.exec(await lab.birdc('show', 'protocols', 'all', 'lb1'))?.[1] ?? 'unknown';

test('a wrong password gets no session (the kernel drops unsigned or mis-signed segments)', async () => {
  const wrong = await speakerWith('not-the-password');
  await new Promise((r) => setTimeout(r, 3000));
  assert.notEqual(await birdState(), 'Established');
  const peers = (await wrong.call('peers')) as { state: string; lastError?: string }[];
  assert.notEqual(peers[0]?.state, 'Established');
  // The operator is told what it looks like, not left with an empty LAST ERROR.
  await eventually(async () => /^no answer from 10\.10\.12\.1:179 in \d+ s \(wrong TCP MD5 password on either side, or a firewall\)$/.test(((await wrong.call('peers')) as { lastError?: string }[])[0]?.lastError ?? ''), 'lastError naming the MD5 mismatch', 10_000);
  await wrong.call('stop');
  await wrong.waitExit();
});

test('the right password reaches Established and routes flow', async () => {
  const right = await speakerWith('vipgate-s3cret');
  await eventually(async () => (await birdState()) === 'Established', 'BIRD to show lb1 Established with MD5');
  await right.call('set', { routes: [{ prefix: '10.200.0.7/32' }] });
  await eventually(async () => (await lab.routerRoutes(4)).includes('10.200.0.7 via 10.10.12.2'), '10.200.0.7 in the router kernel');
  await right.call('stop');
});
