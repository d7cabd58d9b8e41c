// What the Kubernetes lab tests share: the fake API server started inside a lab host, requests to
// it as kubectl would send them (curl from that host), vipgate processes logging to files, and
// the answers the client gets through a VIP.
import { fileURLToPath } from 'node:url';
import { DEMO_ASN, routerBirdConfig, startBird, type Bird } from '../../lab/bird.ts';
import type { Lab, LabProcess } from '../../lab/lab.ts';
import { DEMO } from '../../lab/topologies.ts';
import { eventually } from './eventually.ts';
import type { JsonObject } from './fake-kube-api/index.ts';

const FAKE_API_MAIN = fileURLToPath(new URL('./fake-kube-api/main.ts', import.meta.url));
const TSX_LOADER = fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url));

const quote = (argv: readonly string[]): string => argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');

export interface KubeApiInLab {
  readonly url: string;
  /** A request as kubectl would send it, from the host; an API refusal throws with its message. */
  request(method: string, path: string, body?: JsonObject, contentType?: string): Promise<JsonObject>;
  /** A merge-patch (`kubectl patch --type merge`). */
  merge(path: string, body: JsonObject): Promise<JsonObject>;
}

export interface KubeApiInLabOptions {
  /** The address to listen on, one of `host`'s (default 127.0.0.1: reachable from `host` only). */
  readonly listen?: string;
  /** Serve HTTPS with this certificate and key (PEM files); requests trust the certificate. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
}

/** Starts the fake API server in `host`, writing a kubeconfig for it to `kubeconfigPath`. */
export async function startKubeApi(lab: Lab, host: string, kubeconfigPath: string, options: KubeApiInLabOptions = {}): Promise<KubeApiInLab> {
  const extra = [...(options.listen === undefined ? [] : ['--host', options.listen]), ...(options.tls === undefined ? [] : ['--tls-cert', options.tls.certFile, '--tls-key', options.tls.keyFile])];
  const fake = await lab.spawn(host, [process.execPath, '--import', `file://${TSX_LOADER}`, FAKE_API_MAIN, '--kubeconfig', kubeconfigPath, ...extra]);
  const url = (await fake.waitForLine(/^listening /, 15_000)).slice('listening '.length).trim();
  const trust = options.tls === undefined ? [] : ['--cacert', options.tls.certFile];
  const request = async (method: string, path: string, body?: JsonObject, contentType = 'application/json'): Promise<JsonObject> => {
    const argv = ['curl', '-sS', '-m', '5', ...trust, '-X', method, '-H', `content-type: ${contentType}`, ...(body === undefined ? [] : ['--data-binary', '@-']), `${url}${path}`];
    const reply = JSON.parse(await lab.exec(host, argv, body === undefined ? {} : { input: JSON.stringify(body) })) as JsonObject;
    if (reply['kind'] === 'Status' && reply['status'] === 'Failure') throw new Error(`${method} ${path}: ${JSON.stringify(reply['code'])} ${JSON.stringify(reply['message'])}`);
    return reply;
  };
  return { url, request, merge: (path, body) => request('PATCH', path, body, 'application/merge-patch+json') };
}

/** Starts a process in `host` with its stdout and stderr appended to `logPath`. */
export function spawnLogged(lab: Lab, host: string, argv: readonly string[], logPath: string): Promise<LabProcess> {
  return lab.spawn(host, ['sh', '-c', `exec ${quote(argv)} >>'${logPath}' 2>&1`]);
}

/** Waits until the agent's API in `host` answers /healthz. */
export async function agentHealthy(lab: Lab, host: string, timeoutMs: number): Promise<void> {
  await eventually('the agent to be healthy', async () => (await lab.exec(host, ['curl', '-sf', '-m', '1', 'http://127.0.0.1:9470/healthz']), true), timeoutMs, 200);
}

/** What answered `count` requests from the client to `url` (a new connection each); failures as "-". */
export async function answers(lab: Lab, url: string, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await lab.curl('client', url, { timeoutMs: 1000 });
    out.push(r.ok ? r.body.trim() : '-');
  }
  return out;
}

/** The password both BGP lab tests give the router and the agent's Secret. */
export const LAB_MD5_PASSWORD = 'from-a-secret';

/**
 * BGP from the cluster: BIRD in `router` peers with lb1 over IPv4 with a TCP MD5 key, and the
 * cluster says the same with a Secret, a BGPPeer (hold time 9 s) and a BGPAdvertisement.
 */
export async function clusterBgpWithMd5(lab: Lab, api: KubeApiInLab, dir: string, advertisement: JsonObject): Promise<Bird> {
  const bird = await startBird(lab, 'router', routerBirdConfig({
    routerId: DEMO.router.datacenter.v4, localAsn: DEMO_ASN.router,
    neighbors: [{ name: 'lb1v4', address: DEMO.lbNode.v4, asn: DEMO_ASN.lbNodes, password: LAB_MD5_PASSWORD }],
  }), dir);
  await api.request('POST', '/api/v1/namespaces/vipgate-system/secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bgp-router', namespace: 'vipgate-system' }, stringData: { password: LAB_MD5_PASSWORD } });
  await api.request('POST', '/apis/vipgate.io/v1alpha1/bgppeers', {
    apiVersion: 'vipgate.io/v1alpha1', kind: 'BGPPeer', metadata: { name: 'router' },
    spec: { address: DEMO.router.datacenter.v4, asn: DEMO_ASN.router, localASN: DEMO_ASN.lbNodes, holdTimeSeconds: 9, passwordSecretRef: { name: 'bgp-router' } },
  });
  await api.request('POST', '/apis/vipgate.io/v1alpha1/bgpadvertisements', { apiVersion: 'vipgate.io/v1alpha1', kind: 'BGPAdvertisement', metadata: { name: 'default' }, spec: advertisement });
  return bird;
}

/**
 * The cluster of the one-LB-node Kubernetes labs: Node lb1 (labelled `labelKey`, its InternalIP),
 * the VIPPool `default` (10.200.0.128/26), an LBNodeConfig for the labelled nodes (nftables; a
 * read-back every `resyncSeconds`), and the LoadBalancer Service `default/web` of vipgate's class
 * with an EndpointSlice of pod1a and pod2a.
 */
export async function seedOneLbNodeCluster(api: KubeApiInLab, o: { readonly labelKey: string; readonly resyncSeconds?: number }): Promise<void> {
  await api.request('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'lb1', labels: { 'kubernetes.io/hostname': 'lb1', [o.labelKey]: '' } } });
  await api.merge('/api/v1/nodes/lb1/status', { status: { addresses: [{ type: 'InternalIP', address: DEMO.lbNode.v4 }], conditions: [{ type: 'Ready', status: 'True' }] } });
  await api.request('POST', '/apis/vipgate.io/v1alpha1/vippools', { apiVersion: 'vipgate.io/v1alpha1', kind: 'VIPPool', metadata: { name: 'default' }, spec: { addresses: ['10.200.0.128/26'] } });
  await api.request('POST', '/apis/vipgate.io/v1alpha1/lbnodeconfigs', {
    apiVersion: 'vipgate.io/v1alpha1', kind: 'LBNodeConfig', metadata: { name: 'lb-nodes' },
    spec: {
      nodeSelector: { matchLabels: { [o.labelKey]: '' } },
      vipInterface: { name: 'cilium_ext', addresses: ['10.200.0.1/24'], routes: [DEMO.vipCidr.v4] },
      dataplane: { engine: 'nftables', denySources: ['10.180.1.0/24'], ...(o.resyncSeconds === undefined ? {} : { resyncSeconds: o.resyncSeconds }) },
    },
  });
  await api.request('POST', '/api/v1/namespaces/default/services', {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'vipgate.io/lb', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 80 }] },
  });
  await api.request('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'web-abc12', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    endpoints: (['pod1a', 'pod2a'] as const).map((p) => ({ addresses: [DEMO.pods[p].v4], nodeName: DEMO.pods[p].node, conditions: { ready: true, serving: true, terminating: false } })),
  });
}
