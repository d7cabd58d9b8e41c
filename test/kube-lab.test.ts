// Kubernetes mode end to end in the demo lab: the fake API server, `vipgate controller` and
// `vipgate agent --kubeconfig` all run in lb1; objects are created through the API over HTTP (as
// kubectl would), and the client curls the VIP the controller wrote into the Service's status.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Lab } from '../lab/lab.ts';
import { VIPGATE_BIN } from '../lab/scenario.ts';
import { DEMO, demoTopology } from '../lab/topologies.ts';
import { eventually } from './support/eventually.ts';
import { agentHealthy, answers, spawnLogged, startKubeApi, type KubeApiInLab } from './support/kube-in-lab.ts';
import type { JsonObject } from './support/fake-kube-api/index.ts';

const POOL_CIDR = '10.200.0.128/26';
const HIJACKED = '10.200.0.77';
// A pool that allows externalIPs (10.200.0.96/28), and the address two Services will claim.
const EXT_POOL = '10.200.0.96/28';
const CLAIMED = '10.200.0.100';

// This node's settings only: no pools, no services (those come from the cluster).
const NODE_CONFIG = `apiVersion: vipgate.io/v1alpha1
kind: AgentConfig
nodeName: lb1
vipInterface:
  name: cilium_ext
  addresses: [10.200.0.1/24, fd00:200::1/64]
  routes: [${DEMO.vipCidr.v4}, ${DEMO.vipCidr.v6}]
dataplane:
  engine: nftables
  snat: masquerade
  denySources: [10.180.1.0/24, fd00:180:1::/64]
  resyncSeconds: 5
`;

interface AgentStatusJson {
  readonly frontends: number;
  readonly problems: readonly { service: string; code: string; message: string }[];
}



describe('Kubernetes mode in the lab: controller + agent against the API server', { concurrency: false, timeout: 90_000 }, () => {
  let lab: Lab;
  let dir: string;
  let api: KubeApiInLab;
  const kube = (method: string, path: string, body?: JsonObject, contentType?: string): Promise<JsonObject> => api.request(method, path, body, contentType);
  const startLogged = async (name: string, argv: readonly string[]): Promise<void> => {
    await spawnLogged(lab, 'lb1', argv, join(dir, `${name}.log`));
  };
  let vip = '';


  /** `vipgate status` in lb1: how many frontends the agent serves and which Services it refused. */
  async function agentStatus(): Promise<AgentStatusJson> {
    return JSON.parse(await lab.exec('lb1', [VIPGATE_BIN, 'status', '-o', 'json'], { timeoutMs: 20_000 })) as AgentStatusJson;
  }



  const slice = (service: string, name: string, pods: readonly (keyof typeof DEMO.pods)[]): JsonObject => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    endpoints: pods.map((p) => ({ addresses: [DEMO.pods[p].v4], nodeName: DEMO.pods[p].node, conditions: { ready: true, serving: true, terminating: false } })),
  });

  /**
   * A pod of the lab as Kubernetes knows it: created (scheduled on its node), then Running and
   * Ready as a kubelet writes it. The fake API server's endpointslice controller — replayed
   * against the real one's recorded slices — turns Pods and the Service's selector into the slice.
   */
  const runPod = async (name: keyof typeof DEMO.pods, app: string): Promise<void> => {
    const p = DEMO.pods[name];
    await kube('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { app } },
      spec: { nodeName: p.node, containers: [{ name: 'nginx', image: 'nginx:1.27', ports: [{ containerPort: 80 }] }] },
    });
    const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await kube('PATCH', `/api/v1/namespaces/default/pods/${name}/status`, {
      status: {
        phase: 'Running', podIP: p.v4, podIPs: [{ ip: p.v4 }], startTime: at,
        conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastTransitionTime: at })),
      },
    }, 'application/merge-patch+json');
  };

  before(async () => {
    lab = await Lab.up(demoTopology());
    dir = await mkdtemp(join(tmpdir(), `${lab.prefix}-kube-`));
    try {
      await lab.startBackends();
      const kubeconfig = join(dir, 'kubeconfig');
      api = await startKubeApi(lab, 'lb1', kubeconfig);
      const nodeConfig = join(dir, 'lb1.yaml');
      await writeFile(nodeConfig, NODE_CONFIG);
      // Both start at once: the lab has 2 cores, and each spends ~2 s loading TypeScript.
      await Promise.all([
        startLogged('controller', [VIPGATE_BIN, 'controller', '--kubeconfig', kubeconfig, '--lease-namespace', 'vipgate-system', '--metrics-listen', '127.0.0.1:9471']),
        startLogged('agent', [VIPGATE_BIN, 'agent', '--config', nodeConfig, '--kubeconfig', kubeconfig, '--state-file', join(dir, 'assignments.json')]),
      ]);
      await eventually('the controller to lead', async () => ((await lab.exec('lb1', ['curl', '-sf', '-m', '1', 'http://127.0.0.1:9471/healthz'])).includes('leading') ? true : undefined), 20_000, 200);
      await agentHealthy(lab, 'lb1', 20_000);
    } catch (error) {
      throw new Error(`setting up the lab failed; logs in ${dir}`, { cause: error });
    }
  });
  after(async () => {
    await lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  test('a LoadBalancer Service gets a VIP in its status, and the client reaches its pods through it', async () => {
    await kube('POST', '/apis/vipgate.io/v1alpha1/vippools', { apiVersion: 'vipgate.io/v1alpha1', kind: 'VIPPool', metadata: { name: 'default' }, spec: { addresses: [POOL_CIDR] } });
    await kube('POST', '/api/v1/namespaces/default/services', {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 80 }] },
    });
    for (const node of ['node1', 'node2']) await kube('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: node, labels: { 'kubernetes.io/hostname': node } } });
    await runPod('pod1b', 'web');
    await runPod('pod2a', 'web');

    // What `kubectl get svc web` shows under EXTERNAL-IP.
    const ingress = await eventually('status.loadBalancer.ingress', async () => {
      const svc = await kube('GET', '/api/v1/namespaces/default/services/web');
      const list = ((svc['status'] as JsonObject | undefined)?.['loadBalancer'] as JsonObject | undefined)?.['ingress'];
      return Array.isArray(list) && list.length > 0 ? (list as JsonObject[]) : undefined;
    }, 10_000);
    assert.equal(ingress.length, 1, `one VIP for a single-stack Service: ${JSON.stringify(ingress)}`);
    vip = ingress[0]!['ip'] as string;
    assert.match(vip, /^10\.200\.0\.(1[2-8]\d|19[01])$/, `the VIP ${vip} comes from the pool ${POOL_CIDR}`);
    assert.equal(ingress[0]!['ipMode'], 'VIP');

    await eventually(`the VIP ${vip} to answer`, async () => ((await lab.curl('client', `http://${vip}/`, { timeoutMs: 1000 })).ok ? true : undefined), 15_000);
    const seen = await answers(lab, `http://${vip}/`, 12);
    assert.deepEqual([...new Set(seen)].sort(), ['pod1b', 'pod2a'], `new connections spread over both ready pods: ${seen.join(' ')}`);
  });

  test('a pod deleted: its endpoint leaves the slice, and only the other one answers', async () => {
    assert.notEqual(vip, '', 'needs the VIP from the first test');
    await kube('DELETE', '/api/v1/namespaces/default/pods/pod1b?gracePeriodSeconds=0');
    // Converged when `vipgate service list` shows only pod2a behind web:80 (a run of answers is
    // no signal: with two pods, four answers in a row from pod2a happen by chance 1 time in 16).
    // From then on every new connection must reach pod2a.
    const pod2a = DEMO.pods.pod2a.v4;
    await eventually('the agent to serve web with pod2a alone', async () => {
      const view = JSON.parse(await lab.exec('lb1', [VIPGATE_BIN, 'service', 'list', '-o', 'json'], { timeoutMs: 20_000 })) as { services: { service: string; backends: { address: string }[] }[] };
      const web = view.services.find((s) => s.service === 'default/web');
      return web?.backends.length === 1 && web.backends[0]?.address === pod2a ? true : undefined;
    }, 10_000, 100);
    const after = await answers(lab, `http://${vip}/`, 16);
    assert.deepEqual(after, Array<string>(16).fill('pod2a'), 'a new connection reached the removed pod after the agent applied the change');
  });

  test('a ClusterIP Service hijacking an address with externalIPs gets an ExternalIPRejected Event and is not served', async () => {
    await kube('POST', '/api/v1/namespaces/default/services', {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'grab', namespace: 'default' },
      spec: { type: 'ClusterIP', externalIPs: [HIJACKED], ports: [{ name: 'http', port: 80, targetPort: 80 }] },
    });
    await kube('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', slice('grab', 'grab-xyz99', ['pod1b']));
    // What `kubectl describe svc grab` shows under Events.
    const event = await eventually('an ExternalIPRejected Event', async () => {
      const events = (await kube('GET', '/api/v1/namespaces/default/events'))['items'] as JsonObject[];
      return events.find((e) => (e['involvedObject'] as JsonObject)['name'] === 'grab' && e['reason'] === 'ExternalIPRejected');
    }, 10_000);
    assert.equal(event['type'], 'Warning');
    assert.match(event['message'] as string, new RegExp(HIJACKED.replaceAll('.', '\\.')));
    // The agent checks too (not only the controller): once it has seen the Service it names the
    // refusal, and the address stays dark.
    const status = await eventually('the agent to refuse default/grab', async () => {
      const s = await agentStatus();
      return s.problems.some((p) => p.service === 'default/grab') ? s : undefined;
    }, 10_000);
    assert.equal(status.problems.find((p) => p.service === 'default/grab')?.code, 'EXTERNAL_IP_REJECTED');
    assert.equal(status.frontends, 1, 'only web:80 is served');
    const r = await lab.curl('client', `http://${HIJACKED}/`, { timeoutMs: 1000 });
    assert.equal(r.ok, false, `the hijacked address answered: ${r.body}`);
    assert.deepEqual(await answers(lab, `http://${vip}/`, 2), ['pod2a', 'pod2a'], 'the legitimate VIP keeps answering');
  });

  test('first holder keeps an external IP: a later Service claiming it is refused, naming the holder, and the address keeps answering from the holder', async () => {
    await kube('POST', '/apis/vipgate.io/v1alpha1/vippools', { apiVersion: 'vipgate.io/v1alpha1', kind: 'VIPPool', metadata: { name: 'ext' }, spec: { addresses: [EXT_POOL], allowExternalIPs: true, autoAssign: false, namespaces: ['default'] } });
    const claim = async (name: string, pod: keyof typeof DEMO.pods): Promise<void> => {
      await kube('POST', '/api/v1/namespaces/default/services', {
        apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' },
        spec: { type: 'ClusterIP', externalIPs: [CLAIMED], ports: [{ name: 'http', port: 80, targetPort: 80 }] },
      });
      await kube('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', slice(name, `${name}-abc12`, [pod]));
    };
    await claim('nginx', 'pod1a');
    await eventually(`${CLAIMED} to answer from nginx's pod`, async () => ((await lab.curl('client', `http://${CLAIMED}/`, { timeoutMs: 1000 })).body.includes('pod1a') ? true : undefined), 15_000);
    // What `kubectl describe svc nginx` shows: the controller confirmed it holds the address.
    await eventually('nginx confirmed as the holder', async () => {
      const svc = await kube('GET', '/api/v1/namespaces/default/services/nginx');
      const conditions = ((svc['status'] as JsonObject | undefined)?.['conditions'] ?? []) as JsonObject[];
      return conditions.some((c) => c['type'] === 'vipgate.io/ExternalIPsAllowed' && c['status'] === 'True') ? true : undefined;
    }, 10_000);
    // `aaa-grab` sorts before `default/nginx`: a name must not win an address.
    await claim('aaa-grab', 'pod2a');
    const condition = await eventually('aaa-grab refused by the controller', async () => {
      const svc = await kube('GET', '/api/v1/namespaces/default/services/aaa-grab');
      const conditions = ((svc['status'] as JsonObject | undefined)?.['conditions'] ?? []) as JsonObject[];
      return conditions.find((c) => c['type'] === 'vipgate.io/ExternalIPsAllowed');
    }, 10_000);
    assert.equal(condition['status'], 'False');
    assert.match(condition['message'] as string, /held by default\/nginx, which claimed it first/);
    const status = await eventually('the agent to name the clash', async () => {
      const s = await agentStatus();
      return s.problems.some((p) => p.service === 'default/aaa-grab') ? s : undefined;
    }, 10_000);
    assert.match(status.problems.find((p) => p.service === 'default/aaa-grab')?.message ?? '', /held by default\/nginx/);
    assert.deepEqual(await answers(lab, `http://${CLAIMED}/`, 8), Array<string>(8).fill('pod1a'), 'the holder keeps every connection');
    for (const name of ['nginx', 'aaa-grab']) await kube('DELETE', `/api/v1/namespaces/default/services/${name}`);
  });

  test('deleting the Service: the VIP stops answering', async () => {
    assert.notEqual(vip, '', 'needs the VIP from the first test');
    await kube('DELETE', '/api/v1/namespaces/default/services/web');
    await eventually('the agent to drop default/web', async () => ((await agentStatus()).frontends === 0 ? true : undefined), 10_000);
    const r = await lab.curl('client', `http://${vip}/`, { timeoutMs: 1000 });
    assert.equal(r.ok, false, `${vip} still answered after the Service was deleted: ${r.body}`);
  });
});
