import { once } from 'node:events';
import { existsSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { createApiServer } from '../api/server.ts';
import type { SourceProblem } from '../api/views.ts';
import { ConfigError, loadConfigFile, poolsFromConfig, servicesFromConfig, type AgentConfig } from '../config/index.ts';
import type { Dataplane } from '../dataplane/dataplane.ts';
import { createCommandRunner, createHost } from '../host/index.ts';
import { FileSource } from '../sources/file.ts';
import type { NodeSettings } from '../sources/kubernetes.ts';
import { LOAD_BALANCER_CLASS } from '../kube/service-fields.ts';
import { rangeToCidrs } from '../config/defaults.ts';
import { parseRange } from '../net/index.ts';
import type { VipInterfaceSpec } from '../host/index.ts';
import { Agent, type AgentInput } from './agent.ts';
import type { DesiredInput } from './desired.ts';
import { staticRoutesAnnouncer } from './announcer.ts';
import { switchableAnnouncer, type SwitchableAnnouncer } from './switchable-announcer.ts';
import { bgpAnnouncer, type BgpAnnouncer } from './bgp-announcer.ts';
import { createDataplane } from './engines.ts';
import { createAgentMetrics, registerBgpMetrics } from './metrics.ts';
import { defaultRouteAddresses } from './node-addresses.ts';
import { fileAssignmentStore } from './state-store.ts';

export interface RunAgentOptions {
  /** The standalone file; in Kubernetes mode optional (this node's settings then come from its LBNodeConfig). */
  readonly config?: string;
  readonly stateFile: string;
  readonly apiListen?: string;
  readonly cleanup: boolean;
  readonly once: boolean;
  readonly logLevel: string;
  /** Take Services, EndpointSlices and VIPPools from Kubernetes (a kubeconfig file, or 'in-cluster'). */
  readonly kubeconfig?: string;
  /** Kubernetes mode with the pod's service account (the DaemonSet's way), unless `kubeconfig` says otherwise. */
  readonly kubernetes?: boolean;
  /** This node's Node name (selects its LBNodeConfig); default: the host name. */
  readonly nodeName?: string;
  /** Serve only /metrics and /healthz here (the API itself stays on loopback). */
  readonly metricsListen?: string;
  /** The spec.loadBalancerClass served; only vipgate's own is supported. */
  readonly loadBalancerClass?: string;
  /** Also serve LoadBalancer Services without a loadBalancerClass. */
  readonly defaultLoadBalancerClass?: boolean;
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

/** CIDRs covering the cluster's pools: the VIP routes when the node settings name none. */
function clusterPoolCidrs(cluster: DesiredInput): string[] {
  return [...new Set(cluster.pools.flatMap((p) => p.addresses.flatMap((a) => rangeToCidrs(parseRange(a)))))];
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

/**
 * Why the Kubernetes-mode options cannot work, or undefined. Checked before anything starts, so
 * a DaemonSet with a wrong flag fails at once with a message instead of half-running.
 */
export function kubernetesOptionsProblem(options: RunAgentOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
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

/** `vipgate agent`: wires the settings source, the effects and the API, and runs until a signal. */
const problemKey = (p: SourceProblem): string => `${p.object}\n${p.message}`;

export async function runAgent(options: RunAgentOptions): Promise<number> {
  const log: Logger = pino({ level: options.logLevel, base: { component: 'agent' } });
  const problem = kubernetesOptionsProblem(options);
  if (problem !== undefined) {
    process.stderr.write(`vipgate agent: ${problem}\n`);
    return EXIT_BAD_CONFIG;
  }
  const applied: { input?: AgentInput; config?: AgentConfig; cluster?: DesiredInput; leftOut: readonly SourceProblem[] } = { leftOut: [] };
  // In Kubernetes mode the Services come from the cluster; this node's settings from the file
  // when one is given, else from the LBNodeConfig that selects this node.
  const fromKubernetes = options.kubernetes === true || options.kubeconfig !== undefined;
  const settingsFrom = options.config ?? 'the LBNodeConfig';
  const publish = (): void => {
    const config = applied.config;
    if (config === undefined) return;
    if (!fromKubernetes) {
      applied.input = inputFromConfig(config);
    } else {
      if (applied.cluster === undefined) return;
      const vipInterface = vipInterfaceFromConfig(config);
      // No routes set: route what the cluster's pools hold, as the file does with its own pools.
      const routes = vipInterface.routes.length > 0 ? vipInterface.routes : clusterPoolCidrs(applied.cluster);
      applied.input = { ...applied.cluster, denySources: config.dataplane.denySources, vipInterface: { ...vipInterface, routes } };
    }
    agentRef.current?.setInput(applied.input);
  };
  // The source exists before the agent (its first load decides whether to start at all).
  const agentRef: { current?: Agent } = {};
  const bgpRef: { current?: BgpAnnouncer | undefined } = {};
  const announcerRef: { current?: SwitchableAnnouncer } = {};
  /** A BGP announcer for this agent; `restarted`: routers may still hold our routes (RFC 4724). */
  const startBgp = (settings: NonNullable<AgentConfig['bgp']>, restarted: boolean): BgpAnnouncer => {
    const bgp = bgpAnnouncer(settings, {
      log,
      restarted,
      aggregates: () => applied.input?.vipInterface?.routes ?? [],
      // Advertisements select VIPs by pool: the file's pools, or the cluster's VIPPools.
      pools: () => applied.input?.pools ?? [],
    });
    bgpRef.current = bgp;
    return bgp;
  };
  const kubeSourceRef: { current?: { setFileSettings(settings: AgentConfig): void } } = {};
  const metricsHolder: { dataplane?: Dataplane } = {};
  const metrics = createAgentMetrics(() => metricsHolder.dataplane);

  const settingsChanged = (config: AgentConfig): void => {
    metrics.configReloads.inc({ result: 'applied' });
    log.info({ from: settingsFrom }, 'settings changed; reconciling');
    if (applied.config !== undefined && applied.config.dataplane.engine !== config.dataplane.engine) {
      log.warn('dataplane.engine changed: restart the agent to switch engines');
    }
    applied.config = config;
    // With a file, its kubernetes: section (backends: pods | nodePort) and SNAT shape the
    // Services the cluster source builds: hand it over before the next input.
    if (file !== undefined) kubeSourceRef.current?.setFileSettings(config);
    publish();
    const bgp = bgpRef.current;
    if (bgp !== undefined && config.bgp !== undefined) {
      bgp.reconfigure(config.bgp).catch((error: unknown) => log.error({ err: error }, 'applying the new bgp section failed'));
    } else if (bgp === undefined && config.bgp !== undefined) {
      log.info('a bgp section was added: announcing the VIPs by BGP');
      const next = startBgp(config.bgp, false);
      announcerRef.current?.swap(next).catch((error: unknown) => log.error({ err: error }, 'switching to BGP failed'));
    } else if (bgp !== undefined && config.bgp === undefined) {
      // CEASE to every router: they withdraw our routes; clients then need the static route.
      log.warn('the bgp section was removed: sessions closed, routers withdraw the VIPs; use the route `vipgate routes` prints');
      bgpRef.current = undefined;
      announcerRef.current?.swap(staticRoutesAnnouncer()).catch((error: unknown) => log.error({ err: error }, 'switching to static routes failed'));
    }
  };
  const settingsRefused = (message: string): void => {
    metrics.configReloads.inc({ result: 'refused' });
    log.error({ from: settingsFrom }, `settings refused; the last good ones keep serving:\n${message}`);
    agentRef.current?.setInputError(message);
  };

  const file =
    options.config === undefined
      ? undefined
      : new FileSource({
          path: options.config,
          onChange: (result) => {
            if (result.ok) settingsChanged(result.config);
            else settingsRefused(result.error.format());
          },
          onWarning: (message) => log.warn(message),
        });

  let kube: { stop(): Promise<void> } | undefined;
  const stopSources = async (): Promise<void> => {
    file?.stop();
    await kube?.stop();
  };
  let config: AgentConfig | undefined;
  if (file !== undefined) {
    const first = await file.start();
    if (!first.ok) {
      file.stop();
      process.stderr.write(`vipgate agent: config refused, nothing started\n${first.error.message}\n`);
      return EXIT_BAD_CONFIG;
    }
    config = first.config;
  }
  if (fromKubernetes) {
    const { startKubernetesSource } = await import('../sources/kubernetes.ts');
    const target = options.kubeconfig === undefined || options.kubeconfig === 'in-cluster' ? {} : { kubeconfig: options.kubeconfig };
    const nodeName = options.nodeName ?? hostname().toLowerCase();
    // Without a file the node waits for an LBNodeConfig that selects it: the DaemonSet may well
    // be applied before the LBNodeConfig is.
    let firstSettings: (settings: AgentConfig) => void = () => undefined;
    const settled = new Promise<AgentConfig>((resolve) => (firstSettings = resolve));
    let settingsKnown = false;
    const onNodeSettings = (settings: NodeSettings): void => {
      if (!settings.ok) {
        if (settingsKnown) settingsRefused(settings.message);
        else log.error({ node: nodeName }, `waiting for this node's settings: ${settings.message}`);
        return;
      }
      if (!settingsKnown) {
        settingsKnown = true;
        log.info({ node: nodeName, from: settings.from }, 'node settings from the cluster');
        firstSettings(settings.config);
      } else {
        settingsChanged(settings.config);
      }
    };
    const source = startKubernetesSource({
      ...target,
      log,
      isDefaultClass: options.defaultLoadBalancerClass === true,
      // Informer events of one change arrive together; the agent coalesces whatever comes
      // during a pass. A longer window is only latency (one EndpointSlice change → kernel).
      debounceMs: 10,
      ...(file === undefined ? { nodeName, onNodeSettings } : config === undefined ? {} : { fileSettings: config }),
      onInput: (input, problems) => {
        // Said once per object and reason (every input event repeats them), and kept for
        // `vipgate status` / `service list`.
        const before = new Set(applied.leftOut.map(problemKey));
        for (const p of problems) if (!before.has(problemKey(p))) log.warn({ object: p.object }, `a Kubernetes object was left out: ${p.message}`);
        applied.leftOut = problems;
        applied.cluster = input;
        publish();
      },
    });
    kube = source;
    kubeSourceRef.current = source;
    await source.ready;
    if (file === undefined) config = await settled;
  }
  if (config === undefined) throw new Error('invariant: no settings from the file or the cluster');
  applied.config = config;
  let dataplane: Dataplane;
  let detail: string;
  try {
    ({ dataplane, detail } = await createDataplane(config, log));
  } catch (error) {
    await stopSources();
    process.stderr.write(`vipgate agent: ${settingsFrom}: dataplane: ${(error as Error).message}\n`);
    return EXIT_BAD_CONFIG;
  }
  metricsHolder.dataplane = dataplane;
  const host = createHost({
    runner: createCommandRunner(),
    logger: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
  });

  if (options.cleanup) {
    await stopSources();
    await dataplane.cleanup();
    await host.cleanup(vipInterfaceFromConfig(config));
    await dataplane.close();
    log.info('removed the nftables table and the VIP interface');
    return EXIT_OK;
  }

  // A state file left by an earlier run means routers may still hold our routes (RFC 4724).
  const restarted = existsSync(options.stateFile);
  const announcer = switchableAnnouncer(config.bgp === undefined ? staticRoutesAnnouncer() : startBgp(config.bgp, restarted));
  announcerRef.current = announcer;
  // Registered whatever the mode: the `bgp` section may be added later (no series until then).
  registerBgpMetrics(metrics.registry, () => bgpRef.current?.peers() ?? []);
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
  publish();
  await live.reconcileNow({ resync: true });
  if (options.once) {
    await stopSources();
    await live.stop();
    return live.status().lastPass?.ok === true ? EXIT_OK : EXIT_FAILURE;
  }
  live.start();

  const listen = options.apiListen === undefined ? { host: config.api.host, port: config.api.port } : splitListen(options.apiListen);
  const server = createApiServer(
    {
      status: () => live.status(),
      counters: () => dataplane.counters(),
      leftOut: () => applied.leftOut,
      nodeAddresses: () => defaultRouteAddresses(config.vipInterface.name),
      bgp: () => bgpRef.current,
      registry: metrics.registry,
      log,
    },
    () => applied.input?.vipInterface?.routes ?? [],
  );
  server.listen(listen.port, listen.host);
  await once(server, 'listening');
  // The API has no authentication, so it stays where it was put (loopback by default); a
  // scraper or kubelet probe gets only /metrics and /healthz, answered by the API's own handler.
  const metricsServer =
    options.metricsListen === undefined
      ? undefined
      : createServer((req, res) => {
          const path = new URL(req.url ?? '/', 'http://agent').pathname;
          if (path === '/metrics' || path === '/healthz') server.emit('request', req, res);
          else res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics and /healthz are served here\n');
        });
  if (metricsServer !== undefined && options.metricsListen !== undefined) {
    const m = splitListen(options.metricsListen);
    metricsServer.listen(m.port, m.host);
    await once(metricsServer, 'listening');
  }
  log.info({ api: `${listen.host}:${listen.port}`, metrics: options.metricsListen ?? null, engine: detail, settings: settingsFrom }, 'agent running');

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log.info({ signal }, 'stopping; rules stay in the kernel so traffic keeps flowing');
  await stopSources();
  server.close();
  metricsServer?.close();
  await live.stop();
  return EXIT_OK;
}
