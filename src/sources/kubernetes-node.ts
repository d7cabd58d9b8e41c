// This node's settings (the AgentConfig) from the LBNodeConfig that selects it.
import { CONFIG_API_VERSION, CONFIG_KIND, ConfigError, parseConfig, type AgentConfig } from '../config/index.ts';
import { selectorMatches, selectorProblem } from '../ipam/index.ts';
import type { KubeLbNodeConfig, KubeNode } from '../kube/index.ts';

/** This node's settings from the cluster, or why there are none (for the log and the exit status). */
export type NodeSettings =
  | { readonly ok: true; readonly config: AgentConfig; /** `LBNodeConfig <name>` */ readonly from: string }
  | { readonly ok: false; readonly message: string };

const NODE_SPEC_FIELDS = ['vipInterface', 'dataplane', 'backends', 'drain', 'nodeSelector'] as const;

/** Why the cluster asks this node to drain (docs/design/013-drain.md), or undefined. */
function drainRequestOf(node: KubeNode, nodeName: string, from: string, spec: Readonly<Record<string, unknown>>): string | undefined {
  const reasons = [
    // `kubectl cordon` / `kubectl drain`: the node is being taken out for maintenance.
    ...(node.spec?.unschedulable === true ? [`Node ${nodeName} is cordoned`] : []),
    ...(spec['drain'] === true ? [`${from} spec.drain`] : []),
  ];
  return reasons.length === 0 ? undefined : reasons.join(', ');
}

/**
 * The node's settings from the LBNodeConfig that selects it (by the Node's labels; no
 * nodeSelector selects every node), as the same `AgentConfig` the standalone file gives, so
 * defaults and checks are the file's own. None, or more than one, selecting the node is an
 * error that names them: guessing which of two configs was meant would be worse.
 */
export function nodeSettingsFromCluster(nodeName: string, nodes: readonly KubeNode[], configs: readonly KubeLbNodeConfig[]): NodeSettings {
  const node = nodes.find((n) => n.metadata?.name === nodeName);
  if (node === undefined) return { ok: false, message: `Node ${nodeName} does not exist; --node-name must name this node's Node object` };
  const labels = node.metadata?.labels ?? {};
  const selecting: KubeLbNodeConfig[] = [];
  for (const c of configs) {
    const selector = c.spec?.['nodeSelector'];
    if (selector === undefined || selector === null) {
      selecting.push(c);
      continue;
    }
    const problem = selectorProblem(selector);
    if (problem !== undefined) return { ok: false, message: `LBNodeConfig ${c.metadata?.name ?? ''}: spec.nodeSelector ${problem}` };
    if (selectorMatches(selector, labels)) selecting.push(c);
  }
  const names = selecting.map((c) => c.metadata?.name ?? '').sort();
  const shown = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ') || 'none';
  if (selecting.length === 0) return { ok: false, message: `no LBNodeConfig selects Node ${nodeName} (its labels: ${shown}); create one whose spec.nodeSelector matches` };
  if (selecting.length > 1) return { ok: false, message: `Node ${nodeName} is selected by ${selecting.length} LBNodeConfigs (${names.join(', ')}); narrow their nodeSelectors so exactly one does` };
  const chosen = selecting[0]!;
  const from = `LBNodeConfig ${names[0]!}`;
  const spec = chosen.spec ?? {};
  const unknown = Object.keys(spec).filter((k) => !(NODE_SPEC_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) return { ok: false, message: `${from}: spec.${unknown[0]!} is not an LBNodeConfig field; allowed: ${NODE_SPEC_FIELDS.join(', ')}` };
  const raw = {
    apiVersion: CONFIG_API_VERSION, kind: CONFIG_KIND, nodeName,
    ...(spec['vipInterface'] === undefined ? {} : { vipInterface: spec['vipInterface'] }),
    ...(spec['dataplane'] === undefined ? {} : { dataplane: spec['dataplane'] }),
    // The file's `kubernetes.backends`: in an LBNodeConfig everything is Kubernetes already.
    ...(spec['backends'] === undefined ? {} : { kubernetes: { backends: spec['backends'] } }),
  };
  try {
    // JSON is YAML: the file's parser, schema, checks and defaults apply unchanged.
    const config = parseConfig(JSON.stringify(raw, null, 1), from, { hostname: nodeName });
    const drainRequest = drainRequestOf(node, nodeName, from, spec);
    return { ok: true, config: drainRequest === undefined ? config : { ...config, drainRequest }, from };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, message: error.message };
    throw error;
  }
}
