// `vipgate explain <target> --kubeconfig FILE`: the chain from the cluster's objects alone (no
// agent's API is asked): reads them once, with get and list only, and walks them
// (controller/cluster-explain.ts, docs/design/018-explain.md).
import type { ExplainTarget } from '../api/explain.ts';
import { explainCluster, findService, type ClusterSnapshot } from '../controller/cluster-explain.ts';
import { createKubeClients, statusOf, type KubeClients, type KubeService } from '../kube/index.ts';
import { keyOf } from '../kube-model/index.ts';
import { kubeconfigFor } from '../migrate/cli.ts';
import { formatClusterExplain } from './format-cluster-explain.ts';

export interface KubeExplainOptions {
  readonly kubeconfig: string;
  readonly output: string;
  readonly defaultLoadBalancerClass: boolean;
}

/** The Service named (get, so listing every namespace is not needed), or every Service (a VIP: who holds it). */
async function servicesFor(target: ExplainTarget, clients: KubeClients): Promise<readonly KubeService[]> {
  if (target.kind === 'vip') return clients.listServices();
  const [namespace, name] = target.key.split('/') as [string, string];
  try {
    return [await clients.readService(namespace, name)];
  } catch (error) {
    if (statusOf(error) === 404) return [];
    throw error;
  }
}

/** Reads what the walk looks at, at one moment. */
export async function readClusterSnapshot(target: ExplainTarget, clients: KubeClients, defaultClass: boolean, now = new Date()): Promise<ClusterSnapshot> {
  const [services, pools, nodes, configs, reports] = await Promise.all([
    servicesFor(target, clients), clients.list('vippools'), clients.list('nodes'), clients.list('lbnodeconfigs'), clients.list('lbnodestatuses'),
  ]);
  const svc = findService(target, services);
  const events = svc === undefined ? [] : await clients.listEvents(svc.metadata?.namespace ?? '', svc.metadata?.name ?? '');
  const ofService = svc === undefined ? [] : events.filter((e) => (e.involvedObject?.kind ?? 'Service') === 'Service' && `${e.involvedObject?.namespace ?? ''}/${e.involvedObject?.name ?? ''}` === keyOf(svc));
  return { now, policy: { isDefaultClass: defaultClass }, services, pools, nodes, configs, reports, events: ofService };
}

/** Prints the explanation; 0 when some LB node serves the target, 1 when not (or the cluster cannot be read). */
export async function runKubeExplain(target: ExplainTarget, opts: KubeExplainOptions): Promise<number> {
  let snap: ClusterSnapshot;
  try {
    snap = await readClusterSnapshot(target, createKubeClients(kubeconfigFor(opts.kubeconfig)), opts.defaultLoadBalancerClass);
  } catch (error) {
    const status = statusOf(error);
    const hint = status === 403 ? ' (explain needs get/list on services, events, nodes, vippools, lbnodeconfigs and lbnodestatuses: docs/kubernetes.md)' : '';
    process.stderr.write(`vipgate explain: cannot read the cluster: ${(error as Error).message}${hint}\n`);
    return 1;
  }
  const e = explainCluster(target, snap);
  process.stdout.write(opts.output === 'json' ? `${JSON.stringify(e, null, 2)}\n` : formatClusterExplain(e));
  return e.served ? 0 : 1;
}
