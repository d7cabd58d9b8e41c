// nodeIP:nodePort backends end to end in the demo lab: the fake API server and
// `vipgate agent --kubeconfig --node-name lb1` (settings from an LBNodeConfig with
// `backends: nodePort`) run in lb1; node1 and node2 answer on the Service's nodePort (as
// kube-proxy would), and the client curls the VIP. No controller: the test writes the
// Service's status itself, as the controller would have. The agent's BGP comes from a BGPPeer
// (password from a Secret) and a BGPAdvertisement: BIRD in the router learns the VIP.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { DEMO_ASN, parseBirdProtocols, type Bird } from '../lab/bird.ts';
import { Lab, type LabProcess } from '../lab/lab.ts';
import { VIPGATE_BIN } from '../lab/scenario.ts';
import { DEMO, demoTopology } from '../lab/topologies.ts';
import { eventually } from './support/eventually.ts';
import { agentHealthy, answers, clusterBgpWithMd5, spawnLogged, startKubeApi, type KubeApiInLab } from './support/kube-in-lab.ts';
import type { JsonObject } from './support/fake-kube-api/index.ts';

const BACKEND_SERVER = fileURLToPath(new URL('../lab/backend-server.mjs', import.meta.url));
const NODE_PORT = 30080;
const VIP = '10.200.0.130';
const BARE_VIP = '10.200.0.131';

interface ServiceRowJson {
  readonly frontend: string;
  readonly service: string;
  readonly backends: readonly { address: string; port: number; state: string }[];
}



function nodeObject(name: string, labels: Record<string, string>): JsonObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } } };
}

function nodeStatus(address: string, address6: string): JsonObject {
  return {
    status: {
      addresses: [{ type: 'InternalIP', address }, { type: 'InternalIP', address: address6 }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }],
    },
  };
}

describe('nodeIP:nodePort backends in the lab: agent with an LBNodeConfig against the API server', { concurrency: false, timeout: 120_000 }, () => {
  let lab: Lab;
  let dir: string;
  let api: KubeApiInLab;
  const kube = (method: string, path: string, body?: JsonObject, contentType?: string): Promise<JsonObject> => api.request(method, path, body, contentType);
  const merge = (path: string, body: JsonObject): Promise<JsonObject> => api.merge(path, body);
  const vipAnswers = (count: number): Promise<string[]> => answers(lab, `http://${VIP}/`, count);
  let bird: Bird;
  let agent: LabProcess;
  let kubeconfig = '';


  /** `vipgate service list -o json` in lb1, as `frontend -> backend:port state` rows. */
  async function servedRows(): Promise<string[]> {
    const view = JSON.parse(await lab.exec('lb1', [VIPGATE_BIN, 'service', 'list', '-o', 'json'], { timeoutMs: 20_000 })) as { services: ServiceRowJson[] };
    return view.services.flatMap((s) => s.backends.map((b) => `${s.frontend} -> ${b.address}:${b.port} ${b.state}`)).sort();
  }

  /** Waits until the agent serves exactly `rows`. */
  async function servedExactly(rows: readonly string[]): Promise<void> {
    let last: string[] = [];
    await eventually(`the agent to serve ${rows.join(', ')}`, async () => {
      last = await servedRows();
      return JSON.stringify(last) === JSON.stringify([...rows].sort()) ? true : undefined;
    }, 15_000, 200).catch((error: unknown) => {
      throw new Error(`last seen: ${last.join(', ') || 'nothing'}`, { cause: error });
    });
  }


  before(async () => {
    lab = await Lab.up(demoTopology());
    dir = await mkdtemp(join(tmpdir(), `${lab.prefix}-nodeport-`));
    try {
      // What kube-proxy gives each node: the Service's nodePort answering on the node's own address.
      await Promise.all(['node1', 'node2'].map(async (n) => {
        const proc = await lab.spawn(n, [process.execPath, BACKEND_SERVER, '--name', n, '--port', String(NODE_PORT)]);
        await proc.waitForLine(/^listening /, 10_000);
      }));
      kubeconfig = join(dir, 'kubeconfig');
      api = await startKubeApi(lab, 'lb1', kubeconfig);

      await kube('POST', '/api/v1/nodes', nodeObject('lb1', { 'node-role.kubernetes.io/lb': '' }));
      await merge('/api/v1/nodes/lb1/status', nodeStatus(DEMO.lbNode.v4, DEMO.lbNode.v6));
      for (const n of ['node1', 'node2'] as const) {
        await kube('POST', '/api/v1/nodes', nodeObject(n, {}));
        await merge(`/api/v1/nodes/${n}/status`, nodeStatus(DEMO.nodes[n].v4, DEMO.nodes[n].v6));
      }
      await kube('POST', '/apis/vipgate.io/v1alpha1/vippools', { apiVersion: 'vipgate.io/v1alpha1', kind: 'VIPPool', metadata: { name: 'default' }, spec: { addresses: ['10.200.0.128/26'] } });
      await kube('POST', '/apis/vipgate.io/v1alpha1/lbnodeconfigs', {
        apiVersion: 'vipgate.io/v1alpha1', kind: 'LBNodeConfig', metadata: { name: 'lb-nodes' },
        spec: {
          nodeSelector: { matchLabels: { 'node-role.kubernetes.io/lb': '' } },
          backends: 'nodePort',
          vipInterface: { name: 'cilium_ext', addresses: ['10.200.0.1/24', 'fd00:200::1/64'], routes: [DEMO.vipCidr.v4, DEMO.vipCidr.v6] },
          dataplane: { engine: 'nftables', denySources: ['10.180.1.0/24', 'fd00:180:1::/64'], resyncSeconds: 5 },
        },
      });
      await kube('POST', '/api/v1/namespaces/default/services', {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' },
        spec: { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: NODE_PORT }] },
      });
      await merge('/api/v1/namespaces/default/services/web/status', { status: { loadBalancer: { ingress: [{ ip: VIP, ipMode: 'VIP' }] } } });

      // BGP from the cluster: the router peers with lb1 over IPv4 with a TCP MD5 key.
      bird = await clusterBgpWithMd5(lab, api, dir, { communities: ['65002:100'] });

      agent = await spawnLogged(lab, 'lb1', [VIPGATE_BIN, 'agent', '--kubeconfig', kubeconfig, '--node-name', 'lb1', '--state-file', join(dir, 'assignments.json')], join(dir, 'agent.log'));
      await agentHealthy(lab, 'lb1', 25_000);
    } catch (error) {
      throw new Error(`setting up the lab failed; logs in ${dir}`, { cause: error });
    }
  });
  after(async () => {
    await lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  test('the agent peers with the BGPPeer from the cluster (MD5 key from its Secret) and the router learns the VIP', async () => {
    const peers = await eventually('the session to be Established', async () => {
      const view = JSON.parse(await lab.exec('lb1', [VIPGATE_BIN, 'bgp', 'peers', '-o', 'json'], { timeoutMs: 20_000 })) as { peers: { address: string; asn: number; state: string }[] };
      return view.peers.every((p) => p.state === 'Established') && view.peers.length > 0 ? view.peers : undefined;
    }, 30_000, 300);
    assert.deepEqual(peers.map((p) => `${p.address} AS${p.asn}`), [`${DEMO.router.datacenter.v4} AS${DEMO_ASN.router}`]);
    assert.equal(parseBirdProtocols(await bird.birdc(['show', 'protocols'])).get('lb1v4'), 'Established');
    const route = await eventually(`the router to learn ${VIP}/32`, async () => {
      const text = await bird.birdc(['show', 'route', `${VIP}/32`, 'all']);
      return text.includes(`${VIP}/32`) ? text : undefined;
    }, 15_000, 300);
    assert.match(route, new RegExp(`via ${DEMO.lbNode.v4.replaceAll('.', '\\.')}`));
    assert.match(route, /BGP\.community: \(65002,100\)/, 'the BGPAdvertisement\'s community');
  });

  test('the Service is served to both worker nodes at its nodePort, never to the LB node itself', async () => {
    await servedExactly([`${VIP}:80/tcp -> ${DEMO.nodes.node1.v4}:${NODE_PORT} ready`, `${VIP}:80/tcp -> ${DEMO.nodes.node2.v4}:${NODE_PORT} ready`]);
    await eventually(`${VIP} to answer`, async () => ((await lab.curl('client', `http://${VIP}/`, { timeoutMs: 1000 })).ok ? true : undefined), 15_000);
    const seen = await vipAnswers(12);
    assert.deepEqual([...new Set(seen)].sort(), ['node1', 'node2'], `new connections spread over both nodes: ${seen.join(' ')}`);
  });

  test('a cordoned node drops out; uncordoned it comes back', async () => {
    await merge('/api/v1/nodes/node2', { spec: { unschedulable: true } });
    await servedExactly([`${VIP}:80/tcp -> ${DEMO.nodes.node1.v4}:${NODE_PORT} ready`]);
    assert.deepEqual(await vipAnswers(6), Array<string>(6).fill('node1'));
    await merge('/api/v1/nodes/node2', { spec: { unschedulable: false } });
    await servedExactly([`${VIP}:80/tcp -> ${DEMO.nodes.node1.v4}:${NODE_PORT} ready`, `${VIP}:80/tcp -> ${DEMO.nodes.node2.v4}:${NODE_PORT} ready`]);
  });

  test('externalTrafficPolicy Local: only the node holding a ready endpoint takes the traffic', async () => {
    await kube('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: 'web-abc12', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: [DEMO.pods.pod2a.v4], nodeName: 'node2', conditions: { ready: true, serving: true, terminating: false } }],
    });
    await merge('/api/v1/namespaces/default/services/web', { spec: { externalTrafficPolicy: 'Local' } });
    await servedExactly([`${VIP}:80/tcp -> ${DEMO.nodes.node2.v4}:${NODE_PORT} ready`]);
    assert.deepEqual(await vipAnswers(6), Array<string>(6).fill('node2'));
  });

  test('a Service without node ports is not served and the agent says why; the other keeps answering', async () => {
    await kube('POST', '/api/v1/namespaces/default/services', {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'bare', namespace: 'default' },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', allocateLoadBalancerNodePorts: false, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
    await merge('/api/v1/namespaces/default/services/bare/status', { status: { loadBalancer: { ingress: [{ ip: BARE_VIP, ipMode: 'VIP' }] } } });
    const logged = await eventually('the agent to log why default/bare is left out', async () => {
      const log = await readFile(join(dir, 'agent.log'), 'utf8');
      return log.split('\n').find((l) => l.includes('Service default/bare') && l.includes('has no nodePort'));
    }, 10_000, 200);
    assert.match(logged, /spec\.allocateLoadBalancerNodePorts is false/);
    // …and says it where an operator looks: `vipgate status` and `vipgate service list`.
    const status = await lab.exec('lb1', [VIPGATE_BIN, 'status'], { timeoutMs: 20_000 });
    assert.match(status, /Left out by the source \(fix the object\):\n {2}Service default\/bare: port 80\/TCP has no nodePort/);
    const list = await lab.exec('lb1', [VIPGATE_BIN, 'service', 'list'], { timeoutMs: 20_000 });
    assert.match(list, /Left out by the source[^\n]*\n {2}Service default\/bare: /);
    assert.deepEqual(await servedRows(), [`${VIP}:80/tcp -> ${DEMO.nodes.node2.v4}:${NODE_PORT} ready`]);
    const r = await lab.curl('client', `http://${BARE_VIP}/`, { timeoutMs: 1000 });
    assert.equal(r.ok, false, `${BARE_VIP} answered: ${r.body}`);
    assert.deepEqual(await vipAnswers(2), ['node2', 'node2']);
  });

  test('the same with the node\'s settings in a --config file: kubernetes.backends: nodePort is honoured', async () => {
    const exited = new Promise((r) => agent.child.once('exit', r));
    agent.child.kill('SIGTERM');
    await exited;
    const config = join(dir, 'lb1.yaml');
    await writeFile(config, `apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
nodeName: lb1
kubernetes: { backends: nodePort }
vipInterface: { name: cilium_ext, addresses: [10.200.0.1/24, fd00:200::1/64], routes: [${DEMO.vipCidr.v4}, ${DEMO.vipCidr.v6}] }
dataplane: { engine: nftables, denySources: [10.180.1.0/24, fd00:180:1::/64], resyncSeconds: 5 }
`);
    agent = await spawnLogged(lab, 'lb1', [VIPGATE_BIN, 'agent', '--config', config, '--kubeconfig', kubeconfig, '--state-file', join(dir, 'assignments.json')], join(dir, 'agent-file.log'));
    // With pods as backends (the file's setting not reaching the source) the row would be the
    // pod ${DEMO.pods.pod2a.v4}:8080.
    await servedExactly([`${VIP}:80/tcp -> ${DEMO.nodes.node2.v4}:${NODE_PORT} ready`]);
    assert.deepEqual(await vipAnswers(4), Array<string>(4).fill('node2'));
  });
});
