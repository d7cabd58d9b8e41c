// The agent's Kubernetes source with --node-name, against the fake API: every node settings it
// emits and the latest problems, for tests of what the cluster's objects make of them.
import type { AgentConfig } from '../../src/config/index.ts';
import { startKubernetesSource, type KubernetesSource, type KubernetesSourceProblem, type NodeSettings } from '../../src/sources/kubernetes.ts';
import { create, quietLog } from './fake-kube-api/fixtures.ts';
import type { FakeKubeApi } from './fake-kube-api/index.ts';

export interface NodeSettingsWatch {
  readonly source: KubernetesSource;
  /** Every settings result, in order. */
  readonly seen: NodeSettings[];
  /** The problems of the latest input. */
  problems(): readonly KubernetesSourceProblem[];
  /** The latest settings when they are good. */
  config(): AgentConfig | undefined;
}

/** Starts the source for `nodeName` and resolves once it has listed everything. */
export async function watchNodeSettings(api: FakeKubeApi, nodeName: string): Promise<NodeSettingsWatch> {
  const seen: NodeSettings[] = [];
  let problems: readonly KubernetesSourceProblem[] = [];
  const source = startKubernetesSource({
    kubeconfigText: api.kubeconfig(), log: quietLog, debounceMs: 10, informerRestartMs: 50, nodeName,
    onNodeSettings: (s) => seen.push(s),
    onInput: (_input, p) => (problems = p),
  });
  await source.ready;
  return {
    source, seen,
    problems: () => problems,
    config: () => {
      const s = seen.at(-1);
      return s?.ok === true ? s.config : undefined;
    },
  };
}

/** A Node with InternalIP addresses; the fake drops status on create, as a real server does, so it goes through /status. */
export function createNode(api: FakeKubeApi, name: string, labels: Record<string, string>, internalIPs: readonly string[]): void {
  create(api, 'nodes', { metadata: { name, labels } });
  const nodes = api.resource('nodes');
  const node = api.store.get(nodes, undefined, name);
  api.store.update(nodes, undefined, name, { ...node, status: { addresses: internalIPs.map((address) => ({ type: 'InternalIP', address })) } }, 'status');
}
