// `vipgate agent`: flag checks, exit statuses, printing and signals
// around the agent (src/agent/run.ts).
import pino from 'pino';
import type { AgentOptions } from '../agent/run.ts';
import { LOAD_BALANCER_CLASS } from '../kube-model/index.ts';

export interface AgentCommandOptions extends AgentOptions {
  readonly cleanup: boolean;
  readonly once: boolean;
  readonly logLevel: string;
  /** The spec.loadBalancerClass served; only vipgate's own is supported. */
  readonly loadBalancerClass?: string;
}

/** Exit statuses of `vipgate agent`: 2 means the config was refused and nothing was started. */
const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_BAD_CONFIG = 2;

/**
 * Why the Kubernetes-mode options cannot work, or undefined. Checked before anything starts, so
 * a DaemonSet with a wrong flag fails at once with a message instead of half-running.
 */
export function kubernetesOptionsProblem(options: AgentCommandOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const kubeMode = options.kubernetes === true || options.kubeconfig !== undefined;
  if (!kubeMode) {
    if (options.config === undefined) return '--config is required, unless --kubernetes or --kubeconfig takes the settings from the cluster';
    if (options.nodeName !== undefined || options.loadBalancerClass !== undefined || options.defaultLoadBalancerClass === true) {
      return '--node-name, --load-balancer-class and --default-load-balancer-class need --kubernetes or --kubeconfig';
    }
    return undefined;
  }
  if (options.loadBalancerClass !== undefined && options.loadBalancerClass !== LOAD_BALANCER_CLASS) {
    return `--load-balancer-class ${options.loadBalancerClass} is not supported yet; allowed: ${LOAD_BALANCER_CLASS}`;
  }
  const inCluster = options.kubeconfig === undefined || options.kubeconfig === 'in-cluster';
  if (inCluster && (env['KUBERNETES_SERVICE_HOST'] ?? '') === '') {
    return 'cannot use the in-cluster service account: KUBERNETES_SERVICE_HOST is unset (not running in a pod?); pass --kubeconfig FILE instead';
  }
  return undefined;
}

function nextSignal(): Promise<string> {
  return new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

/** `vipgate agent`: runs until a signal (or one pass with --once, or removes everything with --cleanup). */
export async function runAgentCommand(options: AgentCommandOptions): Promise<number> {
  const log = pino({ level: options.logLevel, base: { component: 'agent' } });
  const problem = kubernetesOptionsProblem(options);
  if (problem !== undefined) {
    process.stderr.write(`vipgate agent: ${problem}\n`);
    return EXIT_BAD_CONFIG;
  }
  const { prepareNode, cleanupNode, startNode, serveNode } = await import('../agent/run.ts');
  const prepared = await prepareNode(options, log);
  if (!prepared.ok) {
    process.stderr.write(`vipgate agent: ${prepared.message}\n`);
    return EXIT_BAD_CONFIG;
  }
  const { node } = prepared;
  if (options.cleanup) {
    await cleanupNode(node, options, log);
    return EXIT_OK;
  }
  const started = await startNode(node, options, log);
  if (options.once) {
    await started.stop();
    return started.agent.status().lastPass?.ok === true ? EXIT_OK : EXIT_FAILURE;
  }
  const serving = await serveNode(node, started, options, log);
  const signal = await nextSignal();
  // A signal is a restart (a rollout, a node reboot, an upgrade): rules stay in the kernel and
  // routers keep our routes as stale until the next agent's End-of-RIB (BGP graceful restart).
  // Taking the node out for good is `--cleanup`.
  log.info({ signal }, 'stopping for a restart: rules stay in the kernel and BGP routers keep our routes (graceful restart), so traffic keeps flowing');
  await serving.stop('restart');
  return EXIT_OK;
}
