// L2 mode from the cluster, end to end: the fake API server (in node1, on the segment) holds two LB
// Nodes, an LBNodeConfig, a VIPPool, an L2Advertisement and a LoadBalancer Service whose status
// the test writes as the controller would. Two agents (`--kubeconfig --node-name lbN`, settings
// from the cluster) find each other as L2 peers through the advertisement, answer ARP for the VIP
// from one of them, and when that one stops the other takes over and says so in an Event.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Lab, type LabProcess } from '../lab/lab.ts';
import { VIPGATE_BIN } from '../lab/scenario.ts';
import { L2_LAB, l2Topology, type L2Node, type L2StatusJson } from '../lab/scenario-l2.ts';
import { eventually } from './support/eventually.ts';
import { agentHealthy, spawnLogged, startKubeApi, type KubeApiInLab } from './support/kube-in-lab.ts';
import type { JsonObject } from './support/fake-kube-api/index.ts';

const VIP = L2_LAB.vips[0]!.v4;
const LB_LABEL = 'node-role.kubernetes.io/lb';

describe('L2 mode from the cluster: L2Advertisement, two agents, a takeover Event', { concurrency: false, timeout: 120_000 }, () => {
  let lab: Lab;
  let dir: string;
  let api: KubeApiInLab;
  const agents = new Map<L2Node, LabProcess>();
  const kube = (method: string, path: string, body?: JsonObject): Promise<JsonObject> => api.request(method, path, body);
  const status = async (node: L2Node): Promise<L2StatusJson> => JSON.parse(await lab.exec(node, [VIPGATE_BIN, 'l2', 'status', '-o', 'json'], { timeoutMs: 20_000 })) as L2StatusJson;
  const macOf = async (host: string): Promise<string> => (JSON.parse(await lab.exec(host, ['ip', '-j', 'link', 'show', 'lan'])) as { address: string }[])[0]!.address;
  const startAgent = async (node: L2Node): Promise<void> => {
    agents.set(node, await spawnLogged(lab, node, [VIPGATE_BIN, 'agent', '--kubeconfig', join(dir, 'kubeconfig'), '--node-name', node, '--state-file', join(dir, `${node}.json`)], join(dir, `${node}.log`)));
    await agentHealthy(lab, node, 25_000);
  };

  before(async () => {
    lab = await Lab.up(l2Topology());
    dir = await mkdtemp(join(tmpdir(), `${lab.prefix}-kube-l2-`));
    try {
      await lab.startBackends();
      api = await startKubeApi(lab, 'node1', join(dir, 'kubeconfig'), { listen: L2_LAB.node1.v4 });
      for (const [name, labels] of [['lb1', { [LB_LABEL]: '' }], ['lb2', { [LB_LABEL]: '' }], ['node1', {}], ['node2', {}]] as const) {
        await kube('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } } });
        const a = L2_LAB[name];
        await api.merge(`/api/v1/nodes/${name}/status`, { status: { addresses: [{ type: 'InternalIP', address: a.v4 }, { type: 'InternalIP', address: a.v6 }], conditions: [{ type: 'Ready', status: 'True' }] } });
      }
      await kube('POST', '/apis/vipgate.io/v1alpha1/vippools', { apiVersion: 'vipgate.io/v1alpha1', kind: 'VIPPool', metadata: { name: 'lan' }, spec: { addresses: [`${VIP}/32`] } });
      await kube('POST', '/apis/vipgate.io/v1alpha1/lbnodeconfigs', {
        apiVersion: 'vipgate.io/v1alpha1', kind: 'LBNodeConfig', metadata: { name: 'lb-nodes' },
        spec: { nodeSelector: { matchLabels: { [LB_LABEL]: '' } }, vipInterface: { name: 'vipgate0' }, dataplane: { engine: 'nftables', denySources: [`${L2_LAB.node1.v4}/32`, `${L2_LAB.node2.v4}/32`], resyncSeconds: 5 } },
      });
      await kube('POST', '/apis/vipgate.io/v1alpha1/l2advertisements', {
        apiVersion: 'vipgate.io/v1alpha1', kind: 'L2Advertisement', metadata: { name: 'lan' },
        spec: { pools: ['lan'], interfaces: ['lan'], nodeSelector: { matchLabels: { [LB_LABEL]: '' } }, failbackHoldDownSeconds: 0 },
      });
      await kube('POST', '/api/v1/namespaces/default/services', {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' },
        spec: { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 80 }] },
      });
      await api.merge('/api/v1/namespaces/default/services/web/status', { status: { loadBalancer: { ingress: [{ ip: VIP, ipMode: 'VIP' }] } } });
      await kube('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
        metadata: { name: 'web-abc12', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
        endpoints: (['pod1a', 'pod2a'] as const).map((p) => ({ addresses: [L2_LAB.pods[p].v4], nodeName: L2_LAB.pods[p].node, conditions: { ready: true, serving: true, terminating: false } })),
      });
      await Promise.all([startAgent('lb1'), startAgent('lb2')]);
    } catch (error) {
      throw new Error(`setting up the lab failed; logs in ${dir}`, { cause: error });
    }
  });
  after(async () => {
    await lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  let owner: L2Node;
  test('the two agents find each other through the L2Advertisement and one answers for the VIP', async () => {
    owner = await eventually('both agents to agree on the owner, and it to answer', async () => {
      const [s1, s2] = await Promise.all([status('lb1'), status('lb2')]);
      const v1 = s1.vips.find((v) => v.vip === VIP);
      const v2 = s2.vips.find((v) => v.vip === VIP);
      if (s1.peers[0]?.state !== 'Up' || v1?.owner == null || v1.owner !== v2?.owner) return undefined;
      return (v1.owner === 'lb1' ? v1 : v2).answering ? (v1.owner as L2Node) : undefined;
    }, 30_000, 300);
    assert.deepEqual((await status('lb1')).peers.map((p) => p.name), ['lb2']);
    const r = await eventually(`${VIP} to answer`, async () => {
      const c = await lab.curl('client', `http://${VIP}/`, { timeoutMs: 1000 });
      return c.ok ? c : undefined;
    }, 15_000);
    assert.match(r.body, /^pod[12]a$/m);
    const neighbour = JSON.parse(await lab.exec('client', ['ip', '-j', 'neigh', 'show', VIP, 'dev', 'lan'])) as { lladdr?: string }[];
    assert.equal(neighbour[0]?.lladdr, await macOf(owner));
  });

  test('the owner stops: the other takes the VIP over, answers, and writes an L2OwnerChanged Event', async () => {
    const other: L2Node = owner === 'lb1' ? 'lb2' : 'lb1';
    const stopping = agents.get(owner)!;
    const exited = new Promise((r) => stopping.child.once('exit', r));
    stopping.child.kill('SIGTERM');
    await exited;
    await eventually(`${other} to answer for ${VIP}`, async () => (await status(other)).vips.find((v) => v.vip === VIP)?.answering === true, 10_000);
    assert.equal((await lab.curl('client', `http://${VIP}/`, { timeoutMs: 2000 })).status, 200);
    const event = await eventually('the L2OwnerChanged Event on the Service', async () => {
      const list = (await kube('GET', '/api/v1/namespaces/default/events')) as { items?: { reason?: string; message?: string; involvedObject?: { name?: string } }[] };
      return list.items?.find((e) => e.reason === 'L2OwnerChanged' && e.involvedObject?.name === 'web');
    }, 15_000);
    assert.match(event.message ?? '', new RegExp(`^${other} now answers ARP/NDP for ${VIP.replaceAll('.', '\\.')} on lan \\(was ${owner}\\)`));
  });
});
