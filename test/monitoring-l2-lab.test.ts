// The shipped monitoring in L2 mode, against a real Prometheus on the segment scraping both LB
// nodes of the L2 walk-through (lab/scenario-l2.ts): every dashboard panel's query but the BGP
// row's returns data, the VIPs answered add up to every VIP once, each by its owner, and the L2
// peer alert fires when lb2's agent stops (BFD AdminDown) and clears when it starts again.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { L2_LAB, L2_NODES, l2AgentArgs, startL2Walkthrough, type L2Node, type L2WalkthroughLab } from '../lab/scenario-l2.ts';
import { eventually } from './support/eventually.ts';
import { assertQueriesReturnData, dashboardQueries, startPrometheus, type LabPrometheus } from './support/prometheus-lab.ts';

const target = (node: L2Node): string => l2AgentArgs(node)[1]!;
const ALL_VIPS = L2_LAB.vips.length * 2;

describe('L2 monitoring with a real Prometheus scraping lb1 and lb2', { concurrency: false }, () => {
  let w: L2WalkthroughLab;
  let prometheus: LabPrometheus;
  const peersUp = async (): Promise<boolean> => (await Promise.all(L2_NODES.map((n) => w.status(n)))).every((s) => s.peers.every((p) => p.state === 'Up'));

  before(async () => {
    w = await startL2Walkthrough({ failbackHoldDownSeconds: 2 });
    await eventually('lb1 and lb2 to see each other (BFD Up)', peersUp, 30_000);
    // Prometheus on the client, a host of the segment like a monitoring server would be.
    prometheus = await startPrometheus(w.lab, { host: 'client', dir: join(w.dir, 'prometheus'), targets: L2_NODES.map(target), quickAlerts: ['VipgateL2PeerDown'] });
  });
  after(async () => {
    await w.down();
  });

  test('every dashboard panel query but the BGP row returns data from the agents', async () => {
    const queries = dashboardQueries().filter((q) => q.row !== 'BGP mode' && q.row !== 'Controller and pools');
    assert.ok(queries.some((q) => q.row === 'L2 mode' && q.expr.includes('vipgate_l2_peer_up')));
    await assertQueriesReturnData(prometheus, queries);
  });

  test('the VIPs answered, summed over the nodes, are every VIP once, and both nodes answer some', async () => {
    await eventually(`sum(vipgate_l2_vips_answered) == ${ALL_VIPS}`, async () => (await prometheus.query(`sum(vipgate_l2_vips_answered) == ${ALL_VIPS}`)).length === 1, 15_000, 250);
    assert.equal((await prometheus.query('vipgate_l2_vips_answered > 0')).length, 2);
    assert.deepEqual(await prometheus.query('vipgate_l2_vips_unowned > 0'), []);
    assert.deepEqual(await prometheus.query('vipgate_l2_vips_owned - vipgate_l2_vips_answered != 0'), [], 'each node answers every VIP it owns');
  });

  test("the L2 peer alert fires when lb2's agent stops (BFD AdminDown), and clears when it starts again", async () => {
    assert.deepEqual(await prometheus.alerts('VipgateL2PeerDown'), []);
    await w.agents.lb2.stopAgent();
    const firing = await eventually('VipgateL2PeerDown firing', async () => {
      const alerts = (await prometheus.alerts('VipgateL2PeerDown')).filter((a) => a.state === 'firing');
      return alerts.length > 0 ? alerts : undefined;
    }, 30_000, 250);
    assert.deepEqual(firing.map((a) => [a.labels['instance'], a.labels['peer'], a.labels['severity']]), [[target('lb1'), 'lb2', 'warning']]);
    // lb1 took over every VIP: the alert that no node answers stays quiet.
    await eventually(`lb1 answers all ${ALL_VIPS} VIPs`, async () => (await prometheus.query(`vipgate_l2_vips_answered == ${ALL_VIPS}`)).length === 1, 15_000, 250);
    await w.agents.lb2.startAgent(l2AgentArgs('lb2'));
    await eventually('VipgateL2PeerDown cleared', async () => (await prometheus.alerts('VipgateL2PeerDown')).length === 0, 30_000, 250);
    await eventually('lb1 and lb2 to see each other again', peersUp, 15_000);
  });
});
