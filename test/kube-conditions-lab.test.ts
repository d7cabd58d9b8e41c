// The Served and Announced conditions from what really happened, end to end in the demo lab: the
// fake API server, `vipgate controller` and `vipgate agent --node-name lb1` (BGP to BIRD from a
// BGPPeer) in lb1. A healthy Service gets Served=True and Announced=True; the BGP session
// disabled at the router makes Announced False (and the pool's), back to True once enabled; the
// frontend's nftables element deleted by hand (a read-back every hour, so nothing repairs it)
// makes Served False, back to True once a restarted agent has programmed it again.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Bird } from '../lab/bird.ts';
import { Lab, type LabProcess } from '../lab/lab.ts';
import { VIPGATE_BIN } from '../lab/scenario.ts';
import { demoTopology } from '../lab/topologies.ts';
import { eventually } from './support/eventually.ts';
import { agentHealthy, clusterBgpWithMd5, seedOneLbNodeCluster, spawnLogged, startKubeApi, type KubeApiInLab } from './support/kube-in-lab.ts';
import { assertQueriesReturnData, dashboardQueries, startPrometheus } from './support/prometheus-lab.ts';
import type { JsonObject } from './support/fake-kube-api/index.ts';

const LB = 'node-role.kubernetes.io/lb';
/** How long a fault may take to show: the agent's grace (one 5 s observation) and write, the controller's tick. */
const WITHIN_MS = 30_000;

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
}

describe('Service conditions from the LB nodes\' read-backs', { concurrency: false, timeout: 240_000 }, () => {
  let lab: Lab;
  let dir: string;
  let api: KubeApiInLab;
  let bird: Bird;
  let agent: LabProcess;
  let kubeconfig = '';
  let vip = '';
  const kube = (method: string, path: string, body?: JsonObject): Promise<JsonObject> => api.request(method, path, body);

  const conditionsOf = async (path: string): Promise<Condition[]> => ((await kube('GET', path))['status'] as { conditions?: Condition[] } | undefined)?.conditions ?? [];
  /** Waits until `path` has condition `type` with `status` (and `reason`), and returns it. */
  const waitFor = async (path: string, type: string, status: string, reason?: string): Promise<Condition> => {
    let seen: Condition | undefined;
    return eventually(`${path} ${type}=${status}${reason === undefined ? '' : ` (${reason})`}`, async () => {
      seen = (await conditionsOf(path)).find((c) => c.type === type);
      return seen?.status === status && (reason === undefined || seen.reason === reason) ? seen : undefined;
    }, WITHIN_MS, 500).catch((error: unknown) => {
      throw new Error(`last seen: ${JSON.stringify(seen)}; logs in ${dir}`, { cause: error });
    });
  };
  const SVC = '/api/v1/namespaces/default/services/web';
  const POOL = '/apis/vipgate.io/v1alpha1/vippools/default';
  const startAgent = async (): Promise<void> => {
    agent = await spawnLogged(lab, 'lb1', [VIPGATE_BIN, 'agent', '--kubeconfig', kubeconfig, '--node-name', 'lb1', '--state-file', join(dir, 'assignments.json')], join(dir, 'agent.log'));
    await agentHealthy(lab, 'lb1', 25_000);
  };

  before(async () => {
    lab = await Lab.up(demoTopology());
    dir = await mkdtemp(join(tmpdir(), `${lab.prefix}-conditions-`));
    try {
      await lab.startBackends();
      kubeconfig = join(dir, 'kubeconfig');
      api = await startKubeApi(lab, 'lb1', kubeconfig);
      // A read-back every hour: a hand-made change stays until the test has seen it reported.
      await seedOneLbNodeCluster(api, { labelKey: LB, resyncSeconds: 3600 });
      bird = await clusterBgpWithMd5(lab, api, dir, {});
      await spawnLogged(lab, 'lb1', [VIPGATE_BIN, 'controller', '--kubeconfig', kubeconfig, '--lease-namespace', 'vipgate-system', '--metrics-listen', '127.0.0.1:9471'], join(dir, 'controller.log'));
      await startAgent();
      vip = (await waitFor(SVC, 'vipgate.io/VIPAllocated', 'True')).message.replace(/^VIPs /, '');
    } catch (error) {
      throw new Error(`setting up the lab failed; logs in ${dir}`, { cause: error });
    }
  });
  after(async () => {
    await lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  test('a healthy Service is Served and Announced; the node\'s LBNodeStatus says so; the pool is Announced', async () => {
    const served = await waitFor(SVC, 'vipgate.io/Served', 'True', 'Served');
    assert.match(served.message, /read back from the kernel/);
    await waitFor(SVC, 'vipgate.io/Announced', 'True', 'Announced');
    await waitFor(POOL, 'vipgate.io/Announced', 'True');
    const report = (await kube('GET', '/apis/vipgate.io/v1alpha1/lbnodestatuses/lb1'))['status'] as JsonObject;
    assert.deepEqual([report['services'], report['served'], report['announced'], report['problems']], [1, 1, 1, []]);
    assert.match(vip, /^10\.200\.0\.1\d\d$/);
  });

  test('the BGP session disabled at the router: Announced goes False (NoBGPSession), the pool too; enabled again: True', async () => {
    const t = Date.now();
    await bird.birdc(['disable', 'lb1v4']);
    try {
      const c = await waitFor(SVC, 'vipgate.io/Announced', 'False', 'NoBGPSession');
      assert.match(c.message, /^lb1: no BGP session is Established/);
      const pool = await waitFor(POOL, 'vipgate.io/Announced', 'False', 'NotAnnounced');
      assert.match(pool.message, new RegExp(`${vip.replaceAll('.', '\\.')} \\(default/web: NoBGPSession\\)`));
      assert.equal((await conditionsOf(SVC)).find((x) => x.type === 'vipgate.io/Served')?.status, 'True', 'still served: only the announcement broke');
      process.stdout.write(`# Announced=False ${((Date.now() - t) / 1000).toFixed(1)} s after the session went down\n`);
    } finally {
      await bird.birdc(['enable', 'lb1v4']);
    }
    await waitFor(SVC, 'vipgate.io/Announced', 'True', 'Announced');
    await waitFor(POOL, 'vipgate.io/Announced', 'True');
  });

  test('the frontend\'s nftables element deleted by hand: Served goes False (KernelDiffers); programmed again: True', async () => {
    await lab.exec('lb1', ['nft', 'delete', 'element', 'inet', 'vipgate', 'frontends4', `{ ${vip} . tcp . 80 }`]);
    const t = Date.now();
    const c = await waitFor(SVC, 'vipgate.io/Served', 'False', 'KernelDiffers');
    assert.equal(c.message, `lb1: the kernel differs from the table: ${vip}:80/tcp: no element ${vip} . tcp . 80 in inet vipgate frontends4`);
    process.stdout.write(`# Served=False ${((Date.now() - t) / 1000).toFixed(1)} s after the element went\n`);
    // A restarted agent programs its whole table at start.
    const exited = new Promise((r) => agent.child.once('exit', r));
    agent.child.kill('SIGTERM');
    await exited;
    await startAgent();
    await waitFor(SVC, 'vipgate.io/Served', 'True', 'Served');
  });

  test("the dashboard's controller row returns data from a real Prometheus scraping the controller", async () => {
    const prometheus = await startPrometheus(lab, { host: 'lb1', dir: join(dir, 'prometheus'), targets: ['127.0.0.1:9471'], quickAlerts: [] });
    const queries = dashboardQueries().filter((q) => q.row === 'Controller and pools');
    assert.ok(queries.length >= 2);
    await assertQueriesReturnData(prometheus, queries);
    const usage = (await prometheus.query('max by (pool, family) (vipgate_pool_addresses{state="used"}) / max by (pool, family) (vipgate_pool_addresses{state="total"})')) as { metric: { pool: string }; value: [number, string] }[];
    const pool = usage.find((u) => u.metric.pool === 'default');
    assert.ok(pool !== undefined && Number(pool.value[1]) > 0, `the default pool has a VIP handed out: ${JSON.stringify(usage)}`);
  });
});
