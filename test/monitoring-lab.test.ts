// The shipped monitoring against a real Prometheus (Debian's prometheus 2.42) scraping a lab LB
// node in BGP mode: every dashboard panel's query but the L2 row's and the controller row's returns
// data from a real agent, and the BGP-session alert fires when the router cuts the session and
// clears when it comes back. The L2 row and alerts: test/monitoring-l2-lab.test.ts; the controller
// row: test/kube-conditions-lab.test.ts (a real controller against the fake API server).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBgpWalkthrough, type BgpWalkthroughLab } from '../lab/scenario-bgp.ts';
import { DEMO } from '../lab/topologies.ts';
import { eventually } from './support/eventually.ts';
import { assertQueriesReturnData, dashboardQueries, startPrometheus, type LabPrometheus } from './support/prometheus-lab.ts';

const AGENT = '127.0.0.1:9470';

describe('monitoring with a real Prometheus scraping lb1', { concurrency: false }, () => {
  let w: BgpWalkthroughLab;
  let prometheus: LabPrometheus;

  before(async () => {
    w = await startBgpWalkthrough();
    await eventually('lb1 Established with the router', async () => (await w.birdProtocols()).get('lb1v4') === 'Established', 30_000);
    // Prometheus in lb1's namespace, where the agent's API listens.
    prometheus = await startPrometheus(w.lab, { host: 'lb1', dir: join(w.dir, 'prometheus'), targets: [AGENT], quickAlerts: ['VipgateBgpSessionDown'] });
  });
  after(async () => {
    await w.down();
  });

  test('every dashboard panel query but the L2 and controller rows returns data from the agent', async () => {
    const queries = dashboardQueries().filter((q) => q.row !== 'L2 mode' && q.row !== 'Controller and pools');
    assert.ok(queries.length >= 11);
    await assertQueriesReturnData(prometheus, queries);
    // A node without L2 mode exports no L2 series, so no L2 alert can fire for it.
    assert.deepEqual(await prometheus.query('{__name__=~"vipgate_l2_.*"}'), []);
  });

  test('the BGP-session alert fires when the router cuts the session, and clears when it returns', async () => {
    assert.deepEqual(await prometheus.alerts('VipgateBgpSessionDown'), []);
    await w.bird.birdc(['disable', 'lb1v4']);
    const firing = await eventually('VipgateBgpSessionDown firing', async () => {
      const alerts = (await prometheus.alerts('VipgateBgpSessionDown')).filter((a) => a.state === 'firing');
      return alerts.length > 0 ? alerts : undefined;
    }, 30_000, 250);
    assert.deepEqual(firing.map((a) => [a.labels['instance'], a.labels['peer'], a.labels['severity']]), [[AGENT, DEMO.router.datacenter.v4, 'warning']]);
    await w.bird.birdc(['enable', 'lb1v4']);
    await eventually('VipgateBgpSessionDown cleared', async () => (await prometheus.alerts('VipgateBgpSessionDown')).length === 0, 60_000, 250);
  });
});
