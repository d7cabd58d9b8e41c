// Planned and unplanned restarts of an LB node with BIRD (graceful restart on) as the router and
// two LB nodes announcing the same VIP (ECMP): the restarting node's route never leaves BIRD's
// table, and a client under load never sees a failed request. The config has only externalIPs
// services, the kind that never writes an IPAM state file (issue 10, items 2 and 3).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { bgpDemoConfig, startBgpWalkthrough, type BgpWalkthroughLab } from '../lab/scenario-bgp.ts';
import type { LbAgent } from '../lab/scenario.ts';
import { DEMO } from '../lab/topologies.ts';
import { eventually } from './support/eventually.ts';

const VIP = '10.200.0.5/32';
const LB1 = DEMO.lbNode;
const LB2 = DEMO.lbNode2;

/** The demo config with only its externalIPs service (nginx at 10.200.0.5): no LoadBalancer, no IPAM. */
function externalIpsOnly(node: 'lb1' | 'lb2'): string {
  const full = bgpDemoConfig(node, { resyncSeconds: 1 });
  const cut = full.replace(/ {2}# The seed's second service[\s\S]*?(?=^bgp:)/m, '');
  assert.ok(!cut.includes('LoadBalancer') && cut.includes('externalIPs: [10.200.0.5]') && /^bgp:/m.test(cut), 'the demo config changed shape');
  return cut;
}

interface PeersJson {
  readonly peers: readonly { address: string; state: string }[];
}

describe('LB node restarts keep the routes (RFC 4724 graceful restart, two nodes, ECMP)', { concurrency: false }, () => {
  let w: BgpWalkthroughLab;

  const established = async (agent: LbAgent): Promise<boolean> => {
    const peers = (JSON.parse(await agent.vipgate(['bgp', 'peers', '-o', 'json'])) as PeersJson).peers;
    return peers.length === 2 && peers.every((p) => p.state === 'Established');
  };
  const bothInBird = async (): Promise<boolean> => [...((await w.birdRoutes()).get(VIP) ?? [])].sort().join() === [LB1.v4, LB2.v4].sort().join();

  /**
   * Polls BIRD's table every 50 ms while `during` runs, and until lb1 is Established again and its
   * End-of-RIB is in (BIRD's "graceful restart" state is over); returns when lb1's route was missing.
   */
  async function watchLb1Route(during: () => Promise<void>): Promise<{ missing: string[]; checks: number }> {
    const started = Date.now();
    const missing: string[] = [];
    let checks = 0;
    let done = false;
    const poll = (async () => {
      while (!done) {
        const hops = (await w.birdRoutes()).get(VIP) ?? [];
        if (!hops.includes(LB1.v4)) missing.push(`+${Date.now() - started} ms: ${hops.join(',') || 'no route'}`);
        checks++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      await during();
      await eventually('lb1 Established again', () => established(w.lb1).catch(() => false), 30_000, 100);
      await eventually('BIRD done with lb1\'s graceful restart', async () => !/Neighbor graceful restart active/.test(await w.bird.birdc(['show', 'protocols', 'all', 'lb1v4'])), 30_000, 100);
    } finally {
      done = true;
      await poll;
    }
    return { missing, checks };
  }

  before(async () => {
    w = await startBgpWalkthrough({ config: externalIpsOnly });
    await eventually('10.200.0.5 in BIRD via both LB nodes', bothInBird, 30_000);
  });
  after(async () => {
    await w.down();
  });

  test('(b) kill -9 and restart of an externalIPs-only config: its OPEN says restarted (R=1, F=1), BIRD keeps the route', async () => {
    assert.equal(existsSync(w.lb1.statePath), false, 'an externalIPs-only config writes no IPAM state file');
    const { missing, checks } = await watchLb1Route(async () => {
      await w.lb1.signalAgent('SIGKILL');
      await eventually('BIRD to notice the crash', async () => /Neighbor graceful restart active/.test(await w.bird.birdc(['show', 'protocols', 'all', 'lb1v4'])), 15_000, 50);
      await w.lb1.startAgent();
    });
    assert.deepEqual(missing, [], `lb1's route left BIRD's table during the restart (${checks} checks)`);
    assert.ok(checks >= 5, `only ${checks} checks`);
    assert.ok(await bothInBird());
  });

  test('(a) SIGTERM restart of lb1 under load: no route ever leaves BIRD, no request fails', async () => {
    const url = 'http://10.200.0.5/';
    let samples: Awaited<ReturnType<typeof w.lab.flowProbe>> = [];
    const { missing, checks } = await watchLb1Route(async () => {
      // Bounded load: 4 clients in a loop for 12 s, spanning the stop, the gap and the start.
      const load = w.lab.flowProbe('client', url, { durationMs: 12_000, concurrency: 4, timeoutMs: 1000 });
      await eventually('lb1 carrying requests', async () => (await w.lab.curl('client', url)).ok, 5000, 50);
      await w.lb1.stopAgent(); // SIGTERM: a planned restart
      assert.equal(w.lb1.running, false, 'lb1 did not exit on SIGTERM');
      await eventually('BIRD holding lb1\'s routes as stale', async () => /Neighbor graceful restart active/.test(await w.bird.birdc(['show', 'protocols', 'all', 'lb1v4'])), 15_000, 50);
      await w.lb1.startAgent();
      samples = await load;
    });
    assert.deepEqual(missing, [], `lb1's route left BIRD's table during the SIGTERM restart (${checks} checks)`);
    const failed = samples.filter((s) => !s.ok);
    assert.ok(samples.length >= 50, `only ${samples.length} requests`);
    assert.deepEqual(failed.map((s) => `+${s.t} ms ${s.error ?? ''}`), [], `${failed.length} of ${samples.length} requests failed`);
    assert.deepEqual([...new Set(samples.map((s) => s.via))].sort(), [LB1.v4, LB2.v4], 'requests went through both LB nodes');
    console.log(`# SIGTERM restart: ${samples.length} requests, 0 failed; ${checks} BIRD table checks, lb1's route always there`);
  });

  test('(c) taking lb2 out: after SIGTERM BIRD keeps its route; `vipgate agent --cleanup` makes BIRD drop it long before the 60 s restart time', async () => {
    await w.lb2.stopAgent();
    assert.match(await w.bird.birdc(['show', 'protocols', 'all', 'lb2v4']), /Neighbor graceful restart active/);
    assert.ok(await bothInBird(), 'a SIGTERM is a restart: BIRD keeps lb2\'s route');
    const started = Date.now();
    await w.lb2.vipgate(['agent', '--config', w.lb2.configPath, '--state-file', w.lb2.statePath, '--cleanup']);
    const goneMs = await eventually('lb2\'s route gone from BIRD', async () => ((await w.birdRoutes()).get(VIP)?.join() === LB1.v4 ? Date.now() - started : undefined), 30_000, 50);
    assert.ok(goneMs < 30_000, `withdrawn after ${goneMs} ms`);
    assert.doesNotMatch(await w.bird.birdc(['show', 'protocols', 'all', 'lb2v4']), /Neighbor graceful restart active/, 'BIRD ended the graceful restart');
    assert.equal(existsSync(`${w.lb2.statePath}.run`), false, '--cleanup deletes the run marker');
    assert.ok((await w.lab.curl('client', 'http://10.200.0.5/')).ok, 'lb1 serves alone');
    console.log(`# --cleanup: lb2's route left BIRD ${goneMs} ms after the command started`);
  });
});
