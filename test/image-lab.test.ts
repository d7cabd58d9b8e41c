// The container image run as Kubernetes would run it, in the demo lab (BGP variant: the router
// learns the VIPs from the agent, no static route). The image is built if stale
// (scripts/build-image.sh) and loaded into podman's storage; podman + runc then run:
// - the fake API server's stand-in for a control plane: in node1, on 10.180.1.21, over TLS;
// - the controller from the image, in node2, with the Deployment's pod and container settings
//   (user 65532, no capabilities, read-only root) and an in-cluster service account;
// - the agent from the image, in lb1's network namespace (hostNetwork), with the DaemonSet's
//   settings: root with only its capabilities, read-only root, the state and bpffs hostPaths.
// The podman flags come from the rendered manifests (test/support/image.ts). Each capability
// is then dropped in turn: the agent must say which one it lacks, and the VIP must go dark.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseBirdRoutes, type Bird } from '../lab/bird.ts';
import { Lab } from '../lab/lab.ts';
import { DEMO, demoTopology } from '../lab/topologies.ts';
import { renderManifests } from '../src/manifests/render.ts';
import { podOf } from '../src/manifests/test-objects.test-support.ts';
import { mountPrivateBpffs, type PrivateBpffs } from './support/bpffs.ts';
import { eventually } from './support/eventually.ts';
import type { JsonObject } from './support/fake-kube-api/index.ts';
import { buildAndLoadImage, containersEnv, podmanLogs, podmanRemove, podmanRun, processCredentials, type BuiltImage, type PodRun } from './support/image.ts';
import { answers, clusterBgpWithMd5, startKubeApi, type KubeApiInLab } from './support/kube-in-lab.ts';

const API_HOST = DEMO.nodes.node1.v4;
const POOL = '10.200.0.128/26';
const PODS = ['pod1b', 'pod2a'] as const;

const nftablesAgent = podOf(renderManifests(), 'DaemonSet');
const xdpAgent = podOf(renderManifests({ xdp: true }), 'DaemonSet');
const controller = podOf(renderManifests(), 'Deployment');

interface Health {
  readonly code: number;
  readonly body: string;
}

describe('the image run as Kubernetes runs it: controller and agent from podman + runc', { concurrency: false, timeout: 20 * 60_000 }, () => {
  let image: BuiltImage;
  let lab: Lab;
  let dir: string;
  let api: KubeApiInLab;
  let bird: Bird;
  let bpffs: PrivateBpffs | undefined;
  let vip = '';
  let apiPort = '';
  const containers: string[] = [];
  let serial = 0;

  const kube = (method: string, path: string, body?: JsonObject): Promise<JsonObject> => api.request(method, path, body);
  const dirs = { serviceAccount: '', state: '' };

  /** What every container of the pods gets from the kubelet: the API's address and the token. */
  function podRun(name: string, spec: { pod: PodRun['pod']; container: PodRun['container'] }, host: string, extra: Partial<PodRun> = {}): PodRun {
    return {
      name: `${lab.prefix}-${name}-${++serial}`,
      image: image.ref,
      ...spec,
      network: `ns:/run/netns/${lab.ns(host)}`,
      fields: { 'spec.nodeName': host, 'metadata.namespace': 'vipgate-system', 'metadata.name': `vipgate-${name}-7d9f-abcde` },
      env: { KUBERNETES_SERVICE_HOST: API_HOST, KUBERNETES_SERVICE_PORT: apiPort },
      serviceAccount: dirs.serviceAccount,
      ...extra,
    };
  }

  async function start(run: PodRun): Promise<string> {
    containers.push(run.name);
    await podmanRun(run);
    return run.name;
  }

  /** The agent's /healthz on the node's metrics port, as the kubelet's probes ask it. */
  async function health(): Promise<Health | undefined> {
    const out = await lab.exec('lb1', ['curl', '-s', '-m', '1', '-w', '\n%{http_code}', 'http://127.0.0.1:9472/healthz']).catch(() => undefined);
    if (out === undefined) return undefined;
    const at = out.lastIndexOf('\n');
    return { code: Number(out.slice(at + 1)), body: out.slice(0, at).trim() };
  }

  /** Waits for the agent's /healthz to answer `code` with a body matching every pattern. */
  async function healthBecomes(name: string, code: number, patterns: readonly RegExp[] = []): Promise<void> {
    let last: Health | undefined;
    const wanted = (h: Health | undefined): boolean => h?.code === code && patterns.every((p) => p.test(h.body));
    try {
      await eventually(`the agent's /healthz to answer ${code} ${patterns.join(' ')}`, async () => (wanted((last = await health())) ? true : undefined), 25_000, 250);
    } catch (error) {
      throw new Error(`last /healthz: ${JSON.stringify(last)}; agent log:\n${await podmanLogs(name)}`, { cause: error });
    }
  }

  /** What answers the client through the VIP, once it answers at all. */
  async function vipServes(name: string): Promise<string[]> {
    try {
      await eventually(`${vip} to answer the client`, async () => ((await lab.curl('client', `http://${vip}/`, { timeoutMs: 1000 })).ok ? true : undefined), 30_000, 250);
    } catch (error) {
      throw new Error(`agent log:\n${await podmanLogs(name)}`, { cause: error });
    }
    return answers(lab, `http://${vip}/`, 16);
  }

  /**
   * A fresh LB node between agents: an agent leaves its rules, link and pinned maps behind on
   * purpose (traffic survives its restart), which would serve the VIP for the next one.
   */
  async function stopAgentAndReset(name: string): Promise<void> {
    await podmanRemove(name);
    await lab.exec('lb1', ['sh', '-c', 'nft delete table inet vipgate 2>/dev/null; ip link del cilium_ext 2>/dev/null; ip link set dev dc xdpgeneric off; true']);
    if (bpffs !== undefined) rmSync(join(bpffs.dir, 'vipgate'), { recursive: true, force: true });
    for (const f of readdirSync(dirs.state)) rmSync(join(dirs.state, f), { force: true });
  }

  const agentRun = (spec: typeof nftablesAgent, extra: Partial<PodRun> = {}): PodRun =>
    podRun('agent', spec, 'lb1', { hostPaths: { state: dirs.state, ...(bpffs === undefined ? {} : { bpffs: bpffs.dir }) }, ...extra });

  before(async () => {
    Object.assign(process.env, await containersEnv());
    image = await buildAndLoadImage();
    lab = await Lab.up(demoTopology({ lbNodes: 1, staticVipRoute: false }));
    dir = await mkdtemp(join(tmpdir(), `${lab.prefix}-image-`));
    try {
      await lab.startBackends();
      // The API server's certificate; the pods trust it through their service account's ca.crt.
      const [cert, key] = [join(dir, 'api.crt'), join(dir, 'api.key')];
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=kube-apiserver', '-addext', `subjectAltName=IP:${API_HOST}`], { stdio: 'ignore' });
      dirs.serviceAccount = join(dir, 'serviceaccount');
      mkdirSync(dirs.serviceAccount, { mode: 0o755 });
      execFileSync('cp', [cert, join(dirs.serviceAccount, 'ca.crt')]);
      // As the kubelet writes them: readable by the pod's user, the token without a newline.
      writeFileSync(join(dirs.serviceAccount, 'token'), 'fake-token');
      writeFileSync(join(dirs.serviceAccount, 'namespace'), 'vipgate-system');
      for (const f of ['ca.crt', 'token', 'namespace']) chmodSync(join(dirs.serviceAccount, f), 0o644);
      dirs.state = join(dir, 'var-lib-vipgate');
      mkdirSync(dirs.state);
      bpffs = mountPrivateBpffs(`${lab.prefix}-bpffs-`);

      api = await startKubeApi(lab, 'node1', join(dir, 'kubeconfig'), { listen: API_HOST, tls: { certFile: cert, keyFile: key } });
      apiPort = new URL(api.url).port;

      await kube('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'lb1', labels: { 'kubernetes.io/hostname': 'lb1', 'node-role.kubernetes.io/lb': '' } } });
      await api.merge('/api/v1/nodes/lb1/status', { status: { addresses: [{ type: 'InternalIP', address: DEMO.lbNode.v4 }] } });
      await kube('POST', '/apis/vipgate.io/v1alpha1/vippools', { apiVersion: 'vipgate.io/v1alpha1', kind: 'VIPPool', metadata: { name: 'default' }, spec: { addresses: [POOL] } });
      await kube('POST', '/apis/vipgate.io/v1alpha1/lbnodeconfigs', {
        apiVersion: 'vipgate.io/v1alpha1', kind: 'LBNodeConfig', metadata: { name: 'lb-nodes' },
        spec: {
          nodeSelector: { matchLabels: { 'node-role.kubernetes.io/lb': '' } },
          vipInterface: { name: 'cilium_ext', addresses: ['10.200.0.1/24'] },
          dataplane: { engine: 'nftables', denySources: ['10.180.1.0/24'], resyncSeconds: 5 },
        },
      });
      // BGP from the cluster: the router peers with lb1 with a TCP MD5 key from a Secret.
      bird = await clusterBgpWithMd5(lab, api, dir, {});
      await kube('POST', '/api/v1/namespaces/default/services', {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' },
        spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 80 }] },
      });
      await kube('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
        metadata: { name: 'web-abc12', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
        endpoints: PODS.map((p) => ({ addresses: [DEMO.pods[p].v4], nodeName: DEMO.pods[p].node, conditions: { ready: true, serving: true, terminating: false } })),
      });
    } catch (error) {
      throw new Error(`setting up the lab failed; files in ${dir}`, { cause: error });
    }
  }, { timeout: 15 * 60_000 });

  after(async () => {
    for (const name of containers) await podmanRemove(name);
    await lab.down();
    bpffs?.unmount();
    await rm(dir, { recursive: true, force: true });
  });

  test('the controller (user 65532, no capabilities, read-only root) leads and gives the Service its VIP', async () => {
    const name = await start(podRun('controller', controller, 'node2'));
    const creds = await processCredentials(name);
    assert.deepEqual(creds, { capabilities: [], uid: 65532 });
    await eventually('the controller to lead', async () => ((await lab.exec('node2', ['curl', '-sf', '-m', '1', 'http://127.0.0.1:9471/healthz']).catch(() => '')).includes('leading') ? true : undefined), 30_000, 250)
      .catch(async (error: unknown) => assert.fail(`${String(error)}\ncontroller log:\n${await podmanLogs(name)}`));
    // What `kubectl get svc web` shows under EXTERNAL-IP.
    const ingress = await eventually('status.loadBalancer.ingress', async () => {
      const svc = await kube('GET', '/api/v1/namespaces/default/services/web');
      const list = ((svc['status'] as JsonObject | undefined)?.['loadBalancer'] as JsonObject | undefined)?.['ingress'];
      return Array.isArray(list) && list.length > 0 ? (list as JsonObject[]) : undefined;
    }, 15_000);
    vip = ingress[0]?.['ip'] as string;
    assert.match(vip, /^10\.200\.0\.(1[2-8]\d|19[01])$/, `the VIP ${vip} comes from the pool ${POOL}`);
  });

  test('the agent with exactly the DaemonSet\'s capabilities (NET_ADMIN) serves the VIP, announced by BGP with an MD5 key', async () => {
    assert.notEqual(vip, '', 'needs the VIP from the controller');
    assert.deepEqual(nftablesAgent.container.securityContext?.capabilities?.add, ['NET_ADMIN']);
    const name = await start(agentRun(nftablesAgent));
    await healthBecomes(name, 200);
    assert.deepEqual(await processCredentials(name), { capabilities: ['NET_ADMIN'], uid: 0 });
    // The router has no static route: the client reaches the VIP only through what lb1 announced.
    await eventually(`the router to learn ${vip}/32 from lb1`, async () => ((parseBirdRoutes(await bird.birdc(['show', 'route', `${vip}/32`])).get(`${vip}/32`) ?? []).includes(DEMO.lbNode.v4) ? true : undefined), 30_000, 250)
      .catch(async (error: unknown) => assert.fail(`${String(error)}\nagent log:\n${await podmanLogs(name)}`));
    const seen = await vipServes(name);
    assert.deepEqual([...new Set(seen)].sort(), [...PODS], `new connections spread over both ready pods: ${seen.join(' ')}`);
    // `kubectl exec ds/vipgate-agent -- vipgate service list`: the CLI in the image, same container.
    const list = execFileSync('podman', ['exec', name, 'vipgate', 'service', 'list', '-o', 'json'], { encoding: 'utf8' });
    assert.deepEqual((JSON.parse(list) as { services: { frontend: string }[] }).services.map((s) => s.frontend), [`${vip}:80/tcp`]);
    // `vipgate manifests --monitoring` from the image: the rule file travels with it.
    const rendered = JSON.parse(execFileSync('podman', ['exec', name, 'vipgate', 'manifests', '--monitoring', '-o', 'json'], { encoding: 'utf8' })) as { items: { kind: string }[] };
    assert.deepEqual(rendered.items.filter((o) => o.kind === 'PrometheusRule' || o.kind === 'PodMonitor').map((o) => o.kind), ['PrometheusRule', 'PodMonitor', 'PodMonitor']);
    // The read-only root's one writable place besides /tmp: the state hostPath (the assignments and
    // the run marker that tells the next start it is a restart, docs/design/014).
    assert.deepEqual(readdirSync(dirs.state).sort(), ['assignments.json', 'assignments.json.run']);
    await stopAgentAndReset(name);
  });

  test('without NET_ADMIN the agent names the capability it lacks and the VIP stays dark', async () => {
    const name = await start(agentRun(nftablesAgent, { capabilities: [] }));
    await healthBecomes(name, 503, [/changing links, addresses and routes needs CAP_NET_ADMIN/, /changing nftables needs CAP_NET_ADMIN/]);
    const r = await lab.curl('client', `http://${vip}/`, { timeoutMs: 1000 });
    assert.equal(r.ok, false, `${vip} answered: ${r.body}`);
    await stopAgentAndReset(name);
  });

  test('XDP with the --xdp DaemonSet\'s capabilities (NET_ADMIN, SYS_ADMIN) and bpffs: says to set accept_local on the node, then serves', async () => {
    assert.deepEqual(xdpAgent.container.securityContext?.capabilities?.add, ['NET_ADMIN', 'SYS_ADMIN']);
    await api.merge('/apis/vipgate.io/v1alpha1/lbnodeconfigs/lb-nodes', { spec: { dataplane: { engine: 'xdp', xdp: { interfaces: ['dc'], mode: 'generic', snatAddresses: [DEMO.lbNode.v4] } } } });
    await lab.exec('lb1', ['sysctl', '-q', '-w', 'net.ipv4.conf.all.accept_local=0', 'net.ipv4.conf.dc.accept_local=0']);
    const name = await start(agentRun(xdpAgent));
    // /proc/sys is read-only in the container: the node's administrator sets it (sysctl.d).
    await healthBecomes(name, 503, [/net\.ipv4\.conf\.dc\.accept_local must be 1 .*set it on the node/]);
    await lab.exec('lb1', ['sysctl', '-q', '-w', 'net.ipv4.conf.all.accept_local=1']);
    await healthBecomes(name, 200);
    assert.deepEqual(await processCredentials(name), { capabilities: ['NET_ADMIN', 'SYS_ADMIN'], uid: 0 });
    assert.match(await lab.exec('lb1', ['ip', '-d', 'link', 'show', 'dc']), /prog\/xdp id \d+ name vipgate_xdp/);
    const seen = await vipServes(name);
    assert.deepEqual([...new Set(seen)].sort(), [...PODS], `new connections spread over both ready pods: ${seen.join(' ')}`);
    const list = JSON.parse(execFileSync('podman', ['exec', name, 'vipgate', 'service', 'list', '-o', 'json'], { encoding: 'utf8' })) as { services: { packets?: number }[] };
    assert.ok((list.services[0]?.packets ?? 0) > 0, `the XDP program counted the packets: ${JSON.stringify(list)}`);
    assert.ok(readdirSync(join(bpffs!.dir, 'vipgate')).length > 0, 'maps pinned on the bpffs hostPath');
    await stopAgentAndReset(name);
  });

  test('XDP without SYS_ADMIN: bpf() is refused (seccomp RuntimeDefault) and the agent says what it needs', async () => {
    const name = await start(agentRun(xdpAgent, { capabilities: ['NET_ADMIN'] }));
    await healthBecomes(name, 503, [/bpf_object__load\(.*\) .*failed: EPERM \(1\); the bpf\(\) syscall was refused: .*CAP_SYS_ADMIN/]);
    assert.equal((await lab.curl('client', `http://${vip}/`, { timeoutMs: 1000 })).ok, false);
    await stopAgentAndReset(name);
  });

  test('XDP without NET_ADMIN: the program loads but cannot be attached, and the VIP link cannot be made', async () => {
    const name = await start(agentRun(xdpAgent, { capabilities: ['SYS_ADMIN'] }));
    await healthBecomes(name, 503, [/bpf_xdp_attach\(.*\) failed: EPERM \(1\); attaching XDP to a link needs CAP_NET_ADMIN/, /changing links, addresses and routes needs CAP_NET_ADMIN/]);
    assert.equal((await lab.curl('client', `http://${vip}/`, { timeoutMs: 1000 })).ok, false);
    await stopAgentAndReset(name);
  });

  test('why SYS_ADMIN: the kernel alone takes BPF + PERFMON, once seccomp lets bpf() through (not RuntimeDefault)', async () => {
    const name = await start(agentRun(xdpAgent, { capabilities: ['NET_ADMIN', 'BPF', 'PERFMON'], securityOpts: ['seccomp=unconfined'] }));
    await healthBecomes(name, 200);
    const seen = await vipServes(name);
    assert.ok(seen.every((s) => (PODS as readonly string[]).includes(s)), `answers from the pods: ${seen.join(' ')}`);
    await stopAgentAndReset(name);
  });
});
