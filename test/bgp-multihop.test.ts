// eBGP TTL against a real BIRD 2 one router away (lb — mid — router): without `multihop` the
// speaker sends its BGP messages with TTL 1, as routers do for eBGP, so they die at `mid` and no
// session comes up; with `multihop: 2` the session is Established and routes flow.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBird, type Bird } from '../lab/bird.ts';
import { Lab } from '../lab/lab.ts';
import { SpeakerChild, eventually } from './support/bgp-lab.ts';

const LB = '10.10.30.2';
const MID_A = '10.10.30.1';
const MID_B = '10.10.31.1';
const ROUTER = '10.10.31.2';

let lab: Lab;
let bird: Bird;
let dir: string;

before(async () => {
  lab = await Lab.up({
    hosts: [
      { name: 'lb', routes: [{ to: 'default', via: MID_A }] },
      { name: 'mid', forwarding: true },
      { name: 'router', routes: [{ to: 'default', via: MID_B }] },
    ],
    segments: [
      { name: 'lbside', members: [{ host: 'lb', addresses: [`${LB}/24`] }, { host: 'mid', addresses: [`${MID_A}/24`] }] },
      { name: 'rtside', members: [{ host: 'mid', addresses: [`${MID_B}/24`] }, { host: 'router', addresses: [`${ROUTER}/24`] }] },
    ],
  });
  dir = await mkdtemp(join(tmpdir(), `${lab.prefix}-bird-`));
  // BIRD's own `multihop 2`: it sends with TTL 2 and accepts a neighbor that is not on a link.
  bird = await startBird(
    lab,
    'router',
    `router id ${ROUTER};
protocol device { scan time 10; }
protocol bgp lb1 { local as 65001; neighbor ${LB} as 65002; multihop 2; hold time 9; connect retry time 1; error wait time 1, 5;
  ipv4 { import all; export none; }; }
`,
    dir,
  );
});

after(async () => {
  // `before` may have failed half-way: Lab.up removes what it made itself.
  await (lab as Lab | undefined)?.down();
  if ((dir as string | undefined) !== undefined) await rm(dir, { recursive: true, force: true });
});

async function withSpeaker(multihop: number | undefined, body: (speaker: SpeakerChild) => Promise<void>): Promise<void> {
  // A previous speaker's last segments may have died on the way (TTL 1): BIRD starts afresh.
  await bird.birdc(['restart', 'lb1']);
  const speaker = new SpeakerChild(lab.ns('lb'));
  try {
    await speaker.call('start', {
      speaker: { routerId: LB, localAsn: 65002 },
      peers: [
        {
          address: ROUTER,
          asn: 65001,
          holdTimeSeconds: 9,
          families: ['ipv4'],
          timings: { connectRetrySeconds: 1, idleHoldMinSeconds: 1, idleHoldMaxSeconds: 2 },
          ...(multihop === undefined ? {} : { multihop }),
        },
      ],
    });
    await body(speaker);
  } finally {
    speaker.kill();
    await speaker.waitExit();
  }
}

const birdState = async (): Promise<string> => /BGP state:\s+(\S+)/.exec(await bird.birdc(['show', 'protocols', 'all', 'lb1']))?.[1] ?? '?';

test('with multihop: 2 the session is Established and a route reaches BIRD', async () => {
  await withSpeaker(2, async (speaker) => {
    await eventually(async () => (await birdState()) === 'Established', 'BIRD lb1 Established').catch(async (e: unknown) => {
      throw new Error(`${String(e)}; speaker: ${JSON.stringify(await speaker.call('peers'))}`);
    });
    await speaker.call('set', { routes: [{ prefix: '10.200.0.5/32' }] });
    // BIRD resolves a multihop next hop recursively and has no IGP here, so the route is kept as
    // unreachable: that it was received is what this test is about.
    await eventually(async () => /10\.200\.0\.5\/32/.test(await bird.birdc(['show', 'route', 'all', 'protocol', 'lb1'])), '10.200.0.5/32 in BIRD');
  });
});

test('without multihop, eBGP one router away never comes up (our messages leave with TTL 1)', async () => {
  await withSpeaker(undefined, async (speaker) => {
    // With a working TTL the session is up in about a second; give it five.
    const states = new Set<string>();
    for (let i = 0; i < 25; i++) {
      const peers = (await speaker.call('peers')) as { state: string }[];
      states.add(peers[0]?.state ?? '?');
      states.add(`bird:${await birdState()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(!states.has('Established') && !states.has('bird:Established'), `states seen: ${[...states].join(', ')}`);
    // The TCP handshake itself goes with the kernel's TTL, so the speaker did get that far.
    // The TCP handshake goes with the kernel's TTL and BIRD's OPEN (TTL 2) arrives: the speaker
    // waits in OpenConfirm for an answer to an OPEN that BIRD never saw.
    assert.ok(states.has('OpenConfirm') || states.has('OpenSent'), `states seen: ${[...states].join(', ')}`);
  });
});
