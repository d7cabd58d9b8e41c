// BFD with BIRD (RFC 5880/5881): the router runs `protocol bfd` at 300 ms × 3 and `bfd on` for
// both LB nodes. A frozen agent (`kill -STOP`) stops answering BFD, so BIRD drops lb1's sessions
// and routes in under a second (the 3 s hold timer would take three); lb2 carries on. Thawed,
// lb1 comes back and the router is back to two next hops.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBgpWalkthrough, type BgpWalkthroughLab } from '../lab/scenario-bgp.ts';
import { DEMO } from '../lab/topologies.ts';
import { eventually } from './support/eventually.ts';

const BFD = { minTxMs: 300, minRxMs: 300, multiplier: 3 } as const;
const LB1 = DEMO.lbNode;
const LB2 = DEMO.lbNode2;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `birdc show bfd sessions` → neighbor address → state. */
function bfdSessions(text: string): Map<string, string> {
  const sessions = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+\S+\s+(Up|Down|Init|AdminDown)\b/.exec(line);
    if (m !== null) sessions.set(m[1]!, m[2]!);
  }
  return sessions;
}

interface PeersJson {
  readonly peers: readonly { address: string; state: string; bfdState?: string }[];
}

describe('BFD: BIRD drops a frozen LB node within 3 × 300 ms', { concurrency: false }, () => {
  let w: BgpWalkthroughLab;
  let vips: string[];
  const hops = async (): Promise<Map<string, string[]>> => {
    const [k4, k6] = await Promise.all([w.routerKernelRoutes(4), w.routerKernelRoutes(6)]);
    return new Map([...k4, ...k6]);
  };
  /** Every VIP's next hops in the router's kernel are exactly `want` (per family). */
  const everyVipVia = async (want: readonly { v4: string; v6: string }[]): Promise<boolean> => {
    const routes = await hops();
    return vips.every((p) => {
      const expected = want.map((n) => (p.includes(':') ? n.v6 : n.v4)).sort().join();
      return [...(routes.get(p) ?? [])].sort().join() === expected;
    });
  };

  before(async () => {
    w = await startBgpWalkthrough({ routerBfd: BFD, bgpOptions: { bfd: BFD } });
    const view = await w.lb1.waitForServices((v) => v.services.length >= 4);
    vips = [...new Set(view.services.map((s) => `${s.address}/${s.address.includes(':') ? 128 : 32}`))].sort();
    await eventually('every VIP in the router kernel via both LB nodes', () => everyVipVia([LB1, LB2]), 20_000);
  });
  after(async () => {
    // A stopped agent does not act on SIGTERM: thaw it whatever happened.
    if (w.lb1.running) await w.lb1.signalAgent('SIGCONT').catch(() => undefined);
    await w.down();
  });

  test('BIRD has a BFD session Up with each LB node on both families; the agents see Up too', async () => {
    const sessions = await eventually(
      'four BFD sessions Up in BIRD',
      async () => {
        const s = bfdSessions(await w.bird.birdc(['show', 'bfd', 'sessions']));
        return [LB1.v4, LB1.v6, LB2.v4, LB2.v6].every((a) => s.get(a) === 'Up') ? s : undefined;
      },
      10_000,
    );
    assert.deepEqual(Object.fromEntries(sessions), { [LB1.v4]: 'Up', [LB1.v6]: 'Up', [LB2.v4]: 'Up', [LB2.v6]: 'Up' });
    for (const agent of [w.lb1, w.lb2]) {
      const peers = (JSON.parse(await agent.vipgate(['bgp', 'peers', '-o', 'json'])) as PeersJson).peers;
      assert.deepEqual(
        peers.map((p) => [p.address, p.state, p.bfdState]).sort(),
        [[DEMO.router.datacenter.v4, 'Established', 'Up'], [DEMO.router.datacenter.v6, 'Established', 'Up']],
        `${agent.host}: ${JSON.stringify(peers)}`,
      );
    }
  });

  test('kill -STOP lb1: its routes leave the router kernel in under 1 s; lb2 keeps every VIP', async () => {
    // When each route change reached the router's kernel: `ip monitor` lines as they arrive (polling
    // `ip route` on a loaded machine would add tens of ms of its own to the figure).
    const monitor = await w.lab.spawn('router', ['ip', 'monitor', 'route']);
    const changes: number[] = [];
    monitor.child.stdout?.on('data', (chunk: Buffer) => {
      if (/proto bird/.test(chunk.toString())) changes.push(Date.now());
    });
    await sleep(200);
    await w.lb1.signalAgent('SIGSTOP');
    const frozenAt = Date.now();
    let seenGoneMs: number | undefined;
    try {
      while (Date.now() - frozenAt < 5000) {
        if (await everyVipVia([LB2])) {
          seenGoneMs = Date.now() - frozenAt;
          break;
        }
        await sleep(10);
      }
      monitor.child.kill();
      assert.ok(seenGoneMs !== undefined, `lb1's routes were still in the router 5 s after the freeze: ${JSON.stringify([...(await hops())])}`);
      // Nothing else changes routes meanwhile: the last change before the poll saw them gone is lb1's last route leaving.
      const seenAt = frozenAt + seenGoneMs;
      const last = changes.filter((t) => t >= frozenAt && t <= seenAt).at(-1);
      assert.ok(last !== undefined, 'ip monitor saw no route change after the freeze');
      const goneMs = last - frozenAt;
      assert.ok(goneMs < 1000, `lb1's routes left the router kernel ${goneMs} ms after the freeze (BFD 3 × 300 ms; the poll saw it at ${seenGoneMs} ms)`);
      const sessions = bfdSessions(await w.bird.birdc(['show', 'bfd', 'sessions']));
      assert.equal(sessions.get(LB1.v4), 'Down');
      assert.equal(sessions.get(LB2.v4), 'Up');
      const protocols = await w.birdProtocols();
      assert.notEqual(protocols.get('lb1v4'), 'Established');
      assert.equal(protocols.get('lb2v4'), 'Established');
      console.log(`# BFD: lb1's routes gone from the router kernel ${goneMs} ms after kill -STOP (poll saw it at ${seenGoneMs} ms)`);
    } finally {
      await w.lb1.signalAgent('SIGCONT');
    }
  });

  test('kill -CONT: lb1 comes back, BFD Up again, every VIP back on two next hops', async () => {
    await eventually('every VIP via both LB nodes again', () => everyVipVia([LB1, LB2]), 30_000);
    await eventually('BFD Up again with lb1', async () => bfdSessions(await w.bird.birdc(['show', 'bfd', 'sessions'])).get(LB1.v4) === 'Up', 10_000);
  });
});
