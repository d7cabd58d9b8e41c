// Passive peers against BIRD 2: vipgate waits (`passive: true`), BIRD connects; with and
// without TCP MD5 on the listener. A connection from an address that is no peer is closed at
// once and counted.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LB_V4, ROUTER_V4, SpeakerChild, createBgpLab, eventually, routerBirdConfig, shAsync, type BgpLab } from './support/bgp-lab.ts';

let lab: BgpLab;
let birdRunning = false;
const children: SpeakerChild[] = [];

before(() => {
  lab = createBgpLab();
});

after(async () => {
  for (const c of children) {
    c.kill();
    await c.waitExit();
  }
  await lab.destroy();
});

interface Status {
  readonly state: string;
  readonly lastError?: string;
}

async function passiveSpeaker(password?: string): Promise<SpeakerChild> {
  const child = new SpeakerChild(lab.lb);
  children.push(child);
  await child.call('start', {
    speaker: { routerId: LB_V4, localAsn: 65002 },
    peers: [{ address: ROUTER_V4, asn: 65001, holdTimeSeconds: 9, passive: true, localAddress: LB_V4, ...(password === undefined ? {} : { password }) }],
  });
  await child.call('set', { routes: [{ prefix: '10.200.0.7/32' }] });
  return child;
}

async function status(child: SpeakerChild): Promise<Status> {
  const [peer] = (await child.call('peers')) as Status[];
  assert.ok(peer !== undefined, 'the speaker has the peer');
  return peer;
}
const birdState = async (): Promise<string> => /BGP state:\s+(\w+)/.exec(await lab.birdc('show', 'protocols', 'all', 'lb1'))?.[1] ?? 'unknown';

test('BIRD connects to a passive peer: Established, the VIP in the router; a stranger is refused and counted', async () => {
  const child = await passiveSpeaker();
  const waiting = await status(child);
  assert.equal(waiting.state, 'Active');
  assert.equal(waiting.lastError, `passive: waiting for ${ROUTER_V4} to connect to ${LB_V4}:179`);
  // From the LB namespace itself: 10.10.12.2 is no configured peer. The listener says nothing
  // and closes: `cat` sees end of file at once (the timeout would fail the command otherwise).
  const heard = await shAsync('ip', 'netns', 'exec', lab.lb, 'timeout', '5', 'bash', '-c', `exec 3<>/dev/tcp/${LB_V4}/179; cat <&3 | wc -c`);
  assert.equal(heard.trim(), '0');
  assert.deepEqual(await child.call('rejected'), { 'unconfigured-peer': 1 });
  await lab.startBird(routerBirdConfig());
  birdRunning = true;
  await eventually(async () => (await birdState()) === 'Established', 'BIRD to show lb1 Established');
  await eventually(async () => (await lab.routerRoutes(4)).includes('10.200.0.7 via 10.10.12.2'), '10.200.0.7 in the router kernel');
  const up = await status(child);
  assert.equal(up.state, 'Established');
  assert.equal(up.lastError, undefined);
  await child.call('stop');
  await child.waitExit();
  await eventually(async () => (await birdState()) !== 'Established', 'BIRD to see the session end');
});

test('with a password on both sides, the key on the listener lets BIRD\'s signed SYN in', async () => {
  const config = routerBirdConfig('password "vipgate-s3cret";');
  if (birdRunning) {
    writeFileSync(join(lab.dir, 'R.conf'), config);
    await lab.birdc('configure');
  } else {
    await lab.startBird(config);
    birdRunning = true;
  }
  const child = await passiveSpeaker('vipgate-s3cret');
  await eventually(async () => (await birdState()) === 'Established', 'BIRD to show lb1 Established with MD5');
  await eventually(async () => (await lab.routerRoutes(4)).includes('10.200.0.7 via 10.10.12.2'), '10.200.0.7 in the router kernel');
  assert.equal((await status(child)).state, 'Established');
  await child.call('stop');
});
