// `vipgate explain --kubeconfig` end to end in the demo lab: the fake API server, `vipgate
// controller` and `vipgate agent --node-name lb1` (BGP to BIRD from a BGPPeer), as in
// kube-conditions-lab. explain reads only cluster objects (no agent API): a healthy Service is one
// "served" line; a Service of another class, one naming no existing pool and one with a refused
// externalIP each get their link and fix; the BGP session disabled at the router shows, once
// lb1's LBNodeStatus reports it, as the announcement link with lb1's reason; a cordoned lb1 as
// the node link.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Bird } from '../lab/bird.ts';
import { Lab } from '../lab/lab.ts';
import { VIPGATE_BIN } from '../lab/scenario.ts';
import { demoTopology } from '../lab/topologies.ts';
import type { ClusterExplanation, ClusterLink } from '../src/controller/cluster-explain.ts';
import { eventually } from './support/eventually.ts';
import { agentHealthy, clusterBgpWithMd5, seedOneLbNodeCluster, spawnLogged, startKubeApi, type KubeApiInLab } from './support/kube-in-lab.ts';
import type { JsonObject } from './support/fake-kube-api/index.ts';

const LB = 'node-role.kubernetes.io/lb';
/** How long a fault may take to reach an LBNodeStatus: the agent's grace (one 5 s observation) and write. */
const WITHIN_MS = 25_000;

interface Run {
  readonly exit: number;
  readonly out: string;
}

describe('vipgate explain --kubeconfig: the chain from cluster objects', { concurrency: false, timeout: 150_000 }, () => {
  let lab: Lab;
  let dir: string;
  let api: KubeApiInLab;
  let bird: Bird;
  let kubeconfig = '';
  const kube = (method: string, path: string, body?: JsonObject): Promise<JsonObject> => api.request(method, path, body);

  /** `vipgate explain --kubeconfig` in lb1 (where the fake API server listens), with its exit status. */
  const explain = async (target: string, json: boolean): Promise<Run> => {
    const args = ['explain', target, '--kubeconfig', kubeconfig, ...(json ? ['-o', 'json'] : [])].map((a) => `'${a}'`).join(' ');
    const text = await lab.exec('lb1', ['sh', '-c', `${VIPGATE_BIN} ${args}; echo "exit $?"`], { timeoutMs: 20_000 });
    const at = text.lastIndexOf('exit ');
    return { exit: Number(text.slice(at + 5).trim()), out: text.slice(0, at) };
  };
  /** Waits until explain's first broken link is `link` (on `where`: the cluster or a node), and returns it. */
  const brokenAt = async (target: string, where: string, link: string): Promise<ClusterLink> => {
    let seen = '';
    return eventually(`${target}: ${where} ${link} broken`, async () => {
      const run = await explain(target, true);
      const e = JSON.parse(run.out) as ClusterExplanation;
      const chain = where === 'cluster' ? e.cluster : e.nodes.find((n) => n.node === where)?.links ?? [];
      const l = chain.find((x) => x.state === 'broken');
      seen = `exit ${run.exit}: ${JSON.stringify(l ?? e)}`;
      return run.exit === 1 && l?.link === link ? l : undefined;
    }, WITHIN_MS, 500).catch((error: unknown) => {
      throw new Error(`last seen: ${seen}; logs in ${dir}`, { cause: error });
    });
  };
  const service = (name: string, spec: JsonObject, annotations: Record<string, string> = {}): Promise<JsonObject> =>
    kube('POST', '/api/v1/namespaces/default/services', {
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', annotations },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 80 }], ...spec },
    });

  before(async () => {
    lab = await Lab.up(demoTopology());
    dir = await mkdtemp(join(tmpdir(), `${lab.prefix}-kexplain-`));
    try {
      await lab.startBackends();
      kubeconfig = join(dir, 'kubeconfig');
      api = await startKubeApi(lab, 'lb1', kubeconfig);
      await seedOneLbNodeCluster(api, { labelKey: LB });
      bird = await clusterBgpWithMd5(lab, api, dir, {});
      await spawnLogged(lab, 'lb1', [VIPGATE_BIN, 'controller', '--kubeconfig', kubeconfig, '--lease-namespace', 'vipgate-system', '--metrics-listen', '127.0.0.1:9471'], join(dir, 'controller.log'));
      await spawnLogged(lab, 'lb1', [VIPGATE_BIN, 'agent', '--kubeconfig', kubeconfig, '--node-name', 'lb1', '--state-file', join(dir, 'assignments.json')], join(dir, 'agent.log'));
      await agentHealthy(lab, 'lb1', 25_000);
    } catch (error) {
      throw new Error(`setting up the lab failed; logs in ${dir}`, { cause: error });
    }
  });
  after(async () => {
    await lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  test('a healthy Service: one line, "served", exit 0; by its VIP too', async () => {
    let last: Run | undefined;
    const run = await eventually('default/web served', async () => {
      last = await explain('default/web', false);
      return last.exit === 0 ? last : undefined;
    }, WITHIN_MS, 500).catch((error: unknown) => {
      throw new Error(`last seen: ${JSON.stringify(last)}; logs in ${dir}`, { cause: error });
    });
    assert.match(run.out, /^default\/web is served by lb1 \(10\.200\.0\.1\d\d\)\n$/);
    const vip = /\((10\.200\.0\.\d+)\)/.exec(run.out)![1]!;
    assert.equal((await explain(vip, false)).out, `${vip} is served by lb1: default/web (${vip})\n`);
  });

  test('a Service of another class, one naming a missing pool, a refused externalIP: each its link and fix', async () => {
    await service('other', { type: 'LoadBalancer', loadBalancerClass: 'example.com/other' });
    await service('nopool', { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb' }, { 'vipgate.io/pool': 'missing' });
    await service('ext', { type: 'ClusterIP', externalIPs: ['10.201.9.9'] });
    const other = await brokenAt('default/other', 'cluster', 'service');
    assert.match(other.says, /class example\.com\/other, not vipgate\.io\/lb/);
    assert.match(other.fix ?? '', /spec\.loadBalancerClass: vipgate\.io\/lb/);
    const nopool = await brokenAt('default/nopool', 'cluster', 'allocation');
    assert.match(nopool.says, /^vipgate\.io\/VIPAllocated=False \w+: .*missing/);
    const ext = await brokenAt('10.201.9.9', 'cluster', 'policy');
    assert.match(ext.says, /^vipgate\.io\/ExternalIPsAllowed=False \w+: .*10\.201\.9\.9/);
    assert.match(ext.fix ?? '', /allowExternalIPs: true/);
    const text = (await explain('default/other', false)).out;
    assert.match(text, /^default\/other is not served: default\/other: service: .*\n {2}fix: /);
  });

  test('the BGP session disabled at the router: explain names lb1\'s announcement link with its reason', async () => {
    await bird.birdc(['disable', 'lb1v4']);
    try {
      const l = await brokenAt('default/web', 'lb1', 'announcement');
      assert.match(l.says, /^NoBGPSession: no BGP session is Established/);
      assert.match(l.fix ?? '', /birdc show protocols/);
      const text = (await explain('default/web', false)).out;
      assert.match(text, /is not served: lb1: announcement: NoBGPSession: /);
      assert.match(text, /\nlb1:\n {2}ok {6}node .*\n {2}ok {6}report .*\n {2}ok {6}served .*\n {2}BROKEN {2}announcement {2}NoBGPSession/);
    } finally {
      await bird.birdc(['enable', 'lb1v4']);
    }
    await eventually('default/web served again', async () => (await explain('default/web', false)).exit === 0 || undefined, WITHIN_MS + 15_000, 500);
  });

  test('lb1 cordoned: the node link, with kubectl uncordon as the fix', async () => {
    await api.merge('/api/v1/nodes/lb1', { spec: { unschedulable: true } });
    const l = await brokenAt('default/web', 'lb1', 'node');
    assert.match(l.says, /^lb1 is drained \(Node lb1 is cordoned\)/);
    assert.equal(l.fix, 'if lb1 should serve again: kubectl uncordon lb1');
  });
});
