import { once } from 'node:events';
import { existsSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import { createApiServer } from '../api/server.ts';
import { ConfigError, loadConfigFile, poolsFromConfig, servicesFromConfig, type AgentConfig } from '../config/index.ts';
import type { Dataplane } from '../dataplane/dataplane.ts';
import { createCommandRunner, createHost } from '../host/index.ts';
import { FileSource } from '../sources/file.ts';
import type { VipInterfaceSpec } from '../host/index.ts';
import { Agent, type AgentInput } from './agent.ts';
import type { DesiredInput } from './desired.ts';
import { staticRoutesAnnouncer, type Announcer } from './announcer.ts';
import { bgpAnnouncer, type BgpAnnouncer } from './bgp-announcer.ts';
import { createDataplane } from './engines.ts';
import { createAgentMetrics, registerBgpMetrics } from './metrics.ts';
import { defaultRouteAddresses } from './node-addresses.ts';
import { fileAssignmentStore } from './state-store.ts';

export interface RunAgentOptions {
  readonly config: string;
  readonly stateFile: string;
  readonly apiListen?: string;
  readonly cleanup: boolean;
  readonly once: boolean;
  readonly logLevel: string;
  /** Take Services, EndpointSlices and VIPPools from Kubernetes (a kubeconfig file, or 'in-cluster'). */
  readonly kubeconfig?: string;
}

/** Exit statuses of `vipgate agent`: 2 means the config was refused and nothing was started. */
const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_BAD_CONFIG = 2;

export function vipInterfaceFromConfig(config: AgentConfig): VipInterfaceSpec {
  return {
    name: config.vipInterface.name,
    addresses: config.vipInterface.addresses.map((a) => `${a.address}/${a.prefixLength}`),
    routes: config.vipInterface.routes,
  };
}

/** The standalone file's view of the world, in the shape every source produces. */
export function inputFromConfig(config: AgentConfig): AgentInput {
  return {
    pools: poolsFromConfig(config),
    services: servicesFromConfig(config),
    denySources: config.dataplane.denySources,
    vipInterface: vipInterfaceFromConfig(config),
  };
}

function splitListen(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(listen);
  if (m === null) throw new Error(`--api-listen ${listen}: expected host:port, e.g. 127.0.0.1:9470`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** `vipgate check-config FILE`: 0 when valid, 2 with every problem printed otherwise. */
export async function checkConfigFile(file: string): Promise<number> {
  try {
    const config = await loadConfigFile(file);
    process.stdout.write(`${file}: valid (${config.pools.length} pools, ${config.services.length} services)\n`);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT_BAD_CONFIG;
    }
    throw error;
  }
}

/** `vipgate agent`: wires the file source, the effects and the API, and runs until a signal. */
export async function runAgent(options: RunAgentOptions): Promise<number> {
  const log: Logger = pino({ level: options.logLevel, base: { component: 'agent' } });
  const applied: { input?: AgentInput; config?: AgentConfig; cluster?: DesiredInput } = {};
  // In Kubernetes mode the file holds this node's settings and the cluster holds the Services.
  const fromKubernetes = options.kubeconfig !== undefined;
  const publish = (): void => {
    const config = applied.config;
    if (config === undefined) return;
    if (!fromKubernetes) {
      applied.input = inputFromConfig(config);
    } else {
      if (applied.cluster === undefined) return;
      applied.input = { ...applied.cluster, denySources: config.dataplane.denySources, vipInterface: vipInterfaceFromConfig(config) };
    }
    agentRef.current?.setInput(applied.input);
  };
  // The source exists before the agent (its first load decides whether to start at all).
  const agentRef: { current?: Agent } = {};
  const bgpRef: { current?: BgpAnnouncer } = {};
  const metricsHolder: { dataplane?: Dataplane } = {};
  const metrics = createAgentMetrics(() => metricsHolder.dataplane);

  const source = new FileSource({
    path: options.config,
    onChange: (result) => {
      if (!result.ok) {
        metrics.configReloads.inc({ result: 'refused' });
        log.error({ file: options.config, problems: result.error.issues.length }, `config refused; the last good config keeps serving:\n${result.error.format()}`);
        agentRef.current?.setInputError(result.error.message);
        return;
      }
      metrics.configReloads.inc({ result: 'applied' });
      log.info({ file: options.config }, 'config changed; reconciling');
      applied.config = result.config;
      publish();
      const bgp = bgpRef.current;
      if (bgp !== undefined && result.config.bgp !== undefined) {
        bgp.reconfigure(result.config.bgp).catch((error: unknown) => log.error({ err: error }, 'applying the new bgp section failed'));
      } else if ((bgp === undefined) !== (result.config.bgp === undefined)) {
        log.warn('the bgp section was added or removed: restart the agent to switch between BGP and static routes');
      }
    },
    onWarning: (message) => log.warn(message),
  });

  const first = await source.start();
  if (!first.ok) {
    source.stop();
    process.stderr.write(`vipgate agent: config refused, nothing started\n${first.error.message}\n`);
    return EXIT_BAD_CONFIG;
  }
  const config = first.config;
  applied.config = config;
  let dataplane: Dataplane;
  let detail: string;
  try {
    ({ dataplane, detail } = await createDataplane(config, log));
  } catch (error) {
    source.stop();
    process.stderr.write(`vipgate agent: ${options.config}: dataplane: ${(error as Error).message}\n`);
    return EXIT_BAD_CONFIG;
  }
  metricsHolder.dataplane = dataplane;
  const host = createHost({
    runner: createCommandRunner(),
    logger: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
  });

  if (options.cleanup) {
    source.stop();
    await dataplane.cleanup();
    await host.cleanup(vipInterfaceFromConfig(config));
    await dataplane.close();
    log.info('removed the nftables table and the VIP interface');
    return EXIT_OK;
  }

  // A state file left by an earlier run means routers may still hold our routes (RFC 4724).
  const restarted = existsSync(options.stateFile);
  let announcer: Announcer = staticRoutesAnnouncer();
  if (config.bgp !== undefined) {
    const bgp = bgpAnnouncer(config.bgp, { log, restarted, aggregates: () => applied.input?.vipInterface?.routes ?? [] });
    bgpRef.current = bgp;
    announcer = bgp;
    registerBgpMetrics(metrics.registry, () => bgp.peers());
  }
  const live = new Agent({
    dataplane,
    host,
    announcer,
    store: fileAssignmentStore(options.stateFile),
    metrics,
    log,
    resyncMs: config.dataplane.resyncSeconds * 1000,
  });
  agentRef.current = live;
  let kube: { stop(): Promise<void> } | undefined;
  if (fromKubernetes) {
    const { startKubernetesSource } = await import('../sources/kubernetes.ts');
    const target = options.kubeconfig === 'in-cluster' ? {} : { kubeconfig: options.kubeconfig };
    const source = startKubernetesSource({
      ...target,
      log,
      onInput: (input, problems) => {
        for (const p of problems) log.warn({ object: p }, 'a Kubernetes object was left out');
        applied.cluster = input;
        publish();
      },
    });
    kube = source;
    await source.ready;
  } else {
    publish();
  }
  await live.reconcileNow({ resync: true });
  if (options.once) {
    source.stop();
    await live.stop();
    return live.status().lastPass?.ok === true ? EXIT_OK : EXIT_FAILURE;
  }
  live.start();

  const listen = options.apiListen === undefined ? { host: config.api.host, port: config.api.port } : splitListen(options.apiListen);
  const server = createApiServer(
    {
      status: () => live.status(),
      counters: () => dataplane.counters(),
      nodeAddresses: () => defaultRouteAddresses(config.vipInterface.name),
      ...(bgpRef.current === undefined ? {} : { bgp: bgpRef.current }),
      registry: metrics.registry,
      log,
    },
    () => applied.input?.vipInterface?.routes ?? [],
  );
  server.listen(listen.port, listen.host);
  await once(server, 'listening');
  log.info({ api: `${listen.host}:${listen.port}`, engine: detail }, 'agent running');

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log.info({ signal }, 'stopping; rules stay in the kernel so traffic keeps flowing');
  source.stop();
  await kube?.stop();
  server.close();
  await live.stop();
  return EXIT_OK;
}
