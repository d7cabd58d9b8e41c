// The agent on an LB node, built in dependency order: the settings and their sources, the
// dataplane and host, then the announcer, metrics and Agent (wired to the settings), then the
// HTTP listeners. The command line around it (flags, exit statuses, signals) is cli/agent-command.ts.
import type { Logger } from 'pino';
import { DEFAULT_BGP_DRAIN, type AgentConfig } from '../config/index.ts';
import type { Dataplane } from '../dataplane/dataplane.ts';
import { createCommandRunner, createHost, type Host } from '../host/index.ts';
import { Agent } from './agent.ts';
import { bgpSwitch, type BgpSwitch } from './bgp-switch.ts';
import { fanOutAnnouncer, l2Switch, type L2Switch } from './l2-switch.ts';
import { l2StatusView } from './l2-announcer.ts';
import { registerL2Metrics } from './metrics-l2.ts';
import { l2EventRecorder } from './l2-events.ts';
import type { EventRecord } from '../kube/index.ts';
import { l2HostProblems } from './l2-interfaces.ts';
import { createDataplane } from './engines.ts';
import { splitListen, startHttpServers } from './http-servers.ts';
import { fileDrainStore, NodeDrain } from './drain.ts';
import { createAgentMetrics, registerBgpMetrics, registerDrainMetrics, type AgentMetrics } from './metrics.ts';
import { defaultRouteAddresses } from './node-addresses.ts';
import { vipInterfaceFromConfig } from './node-input.ts';
import { AgentSettings } from './settings.ts';
import { fromKubernetes, startSettingsSources, type SettingsSourceOptions } from './settings-sources.ts';
import type { StopKind } from './announcer.ts';
import { fileAssignmentStore, runMarker, runMarkerPath } from './state-store.ts';
import { withdrawFromRouters } from './withdraw.ts';
import { NodeStatusPublisher } from './node-status.ts';
import { gatherSnapshot } from '../api/explain-endpoint.ts';
import type { ApiDeps } from '../api/server.ts';

export interface AgentOptions extends SettingsSourceOptions {
  readonly stateFile: string;
  /** `host:port` of the API (default: the settings' api.listen). */
  readonly apiListen?: string;
  /** Serve only /metrics and /healthz here (the API itself stays on loopback). */
  readonly metricsListen?: string;
}

/** The node's settings known and its dataplane open: what cleanup and a run both start from. */
export interface PreparedNode {
  readonly settings: AgentSettings;
  /** The first settings (the dataplane engine and the API address are taken from them). */
  readonly config: AgentConfig;
  readonly dataplane: Dataplane;
  /** The engine in use, for the log. */
  readonly engine: string;
  readonly host: Host;
  /** Where the settings come from, for messages: the file, or 'the LBNodeConfig'. */
  readonly from: string;
  /** In Kubernetes mode: writes an Event (best effort). */
  readonly recordEvent?: (event: EventRecord) => void;
  /** In Kubernetes mode: writes this node's LBNodeStatus status. */
  readonly writeNodeStatus?: (name: string, status: object) => Promise<void>;
  stopSources(): Promise<void>;
}

/** Starts the settings sources and opens the dataplane; a refusal means nothing was started. */
export async function prepareNode(options: AgentOptions, log: Logger): Promise<{ ok: true; node: PreparedNode } | { ok: false; message: string }> {
  const from = options.config ?? 'the LBNodeConfig';
  const check = (c: AgentConfig): string | undefined => l2HostProblems(c, from);
  const settings = new AgentSettings({ log, fromKubernetes: fromKubernetes(options), from, check });
  const sources = await startSettingsSources(options, settings, log);
  if (!sources.ok) return sources;
  const { config } = sources;
  const problem = check(config);
  if (problem !== undefined) {
    // A file is refused whole, as for any other error in it; a cluster's settings are kept
    // (the VIPs on interfaces that fit are still answered) and the problem is logged.
    if (!fromKubernetes(options)) {
      await sources.stop();
      return { ok: false, message: `config refused, nothing started\n${problem}` };
    }
    log.error(problem);
  }
  let opened: Awaited<ReturnType<typeof createDataplane>>;
  try {
    opened = await createDataplane(config, log);
  } catch (error) {
    await sources.stop();
    return { ok: false, message: `${from}: dataplane: ${(error as Error).message}` };
  }
  const host = createHost({
    runner: createCommandRunner(),
    logger: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
  });
  const node: PreparedNode = { settings, config, dataplane: opened.dataplane, engine: opened.detail, host, from, stopSources: () => sources.stop(), ...(sources.recordEvent === undefined ? {} : { recordEvent: sources.recordEvent }),
    ...(sources.writeNodeStatus === undefined ? {} : { writeNodeStatus: sources.writeNodeStatus }) };
  return { ok: true, node };
}

/**
 * `--cleanup`: the node leaves for good. Routers that kept its routes over the stop (graceful
 * restart) are told to drop them first, then the nftables table and the VIP interface go.
 */
export async function cleanupNode(node: PreparedNode, options: Pick<AgentOptions, 'stateFile'>, log: Logger): Promise<void> {
  const bgp = node.settings.config?.bgp;
  await node.stopSources();
  if (bgp !== undefined) await withdrawFromRouters(bgp, log);
  await runMarker(runMarkerPath(options.stateFile)).remove();
  await node.dataplane.cleanup();
  await node.host.cleanup(vipInterfaceFromConfig(node.config));
  await node.dataplane.close();
  log.info('removed the nftables table and the VIP interface');
}

export interface StartedNode {
  readonly agent: Agent;
  readonly bgp: BgpSwitch;
  readonly l2: L2Switch;
  readonly drain: NodeDrain;
  readonly metrics: AgentMetrics;
  /** Stops the sources and the agent (after `--once`). */
  stop(kind?: StopKind): Promise<void>;
}

/** Builds the announcer, metrics and Agent, wires them to the settings, and runs the first pass. */
export async function startNode(node: PreparedNode, options: AgentOptions, log: Logger): Promise<StartedNode> {
  const { settings, config, dataplane } = node;
  const earlier = await readEarlierRun(options.stateFile, log);
  const bgp = bgpSwitch({
    log,
    initial: settings.config?.bgp,
    // An earlier run on this node: routers may still hold our routes (RFC 4724).
    restarted: earlier.restarted,
    forwardingPreserved: earlier.forwardingPreserved,
    aggregates: () => settings.input?.vipInterface?.routes ?? [],
    pools: () => settings.input?.pools ?? [],
  });
  // Set once the agent exists: the Services holding a VIP are in its table.
  let servicesOf: (vip: string) => readonly string[] = () => [];
  const onEvent = node.recordEvent === undefined ? undefined : l2EventRecorder({ record: node.recordEvent, servicesOf: (vip) => servicesOf(vip) });
  const l2 = l2Switch({ log, nodeName: config.nodeName, initial: settings.config?.l2, pools: () => settings.input?.pools ?? [], ...(onEvent === undefined ? {} : { onEvent }) });
  const metrics = createAgentMetrics(() => dataplane, () => settings.reloads);
  // Registered whatever the mode: the `bgp` section may be added later (no series until then).
  registerBgpMetrics(
    metrics.registry,
    () => bgp.current()?.peers() ?? [],
    () => bgp.current()?.speaker.connectionsRejected() ?? new Map(),
  );
  const drain = new NodeDrain({
    announce: (mode) => {
      bgp.setDrain(mode);
      // L2 has no softer step than handing the VIPs over; the peers take them at once (AdminDown).
      l2.setDraining(mode !== undefined);
    },
    packets: async () => {
      let sum = 0n;
      for (const c of (await dataplane.counters()).values()) sum += c.packets;
      return sum;
    },
    timing: () => settings.config?.bgp?.drain ?? DEFAULT_BGP_DRAIN,
    // Beside the assignments: the same volume keeps both across restarts.
    store: fileDrainStore(`${options.stateFile}.drain.json`),
    log,
  });
  // Before the first pass: a node restarted while drained announces nothing.
  await drain.start(settings.config?.drainRequest);
  registerDrainMetrics(metrics.registry, () => drain.status());
  registerL2Metrics(metrics.registry, () => l2.status());
  const agent = new Agent({
    dataplane,
    host: node.host,
    announcer: fanOutAnnouncer(bgp.announcer, l2),
    dataplaneHealth: (healthy) => l2.setDataplaneHealthy(healthy),
    store: fileAssignmentStore(options.stateFile),
    metrics,
    log,
    resyncMs: config.dataplane.resyncSeconds * 1000,
  });
  servicesOf = (vip) => [...new Set(agent.status().table.frontends.filter((f) => f.address === vip).map((f) => f.service))];
  settings.on('input', (input) => agent.setInput(input));
  settings.on('refused', (message) => agent.setInputError(message));
  settings.on('bgp', (section) => bgp.apply(section));
  settings.on('config', (next) => drain.setClusterRequest(next.drainRequest));
  settings.on('config', (next) => l2.apply(next.l2));
  settings.publish();
  await agent.reconcileNow({ resync: true });
  const stop = async (kind?: StopKind): Promise<void> => {
    await node.stopSources();
    await agent.stop(kind === undefined ? {} : { kind });
    if (kind === 'remove') await runMarker(runMarkerPath(options.stateFile)).remove();
  };
  return { agent, bgp, l2, drain, metrics, stop };
}

/** Reads the run marker, then writes this run's; a marker that cannot be written is only a warning. */
async function readEarlierRun(stateFile: string, log: Logger): Promise<{ restarted: boolean; forwardingPreserved: boolean }> {
  const marker = runMarker(runMarkerPath(stateFile));
  const earlier = await marker.read();
  try {
    await marker.write();
  } catch (error) {
    log.warn({ err: error, path: marker.path }, 'cannot write the run marker: a restart of this agent will look like a first start to BGP routers (they drop its routes meanwhile)');
  }
  if (earlier.restarted) log.info({ forwardingPreserved: earlier.forwardingPreserved }, earlier.forwardingPreserved ? 'restarted: the dataplane survived, routers may keep our routes (graceful restart)' : 'restarted after a reboot: routers drop our stale routes until we announce again');
  return earlier;
}

/** Keeps reconciling and serves the API (and the metrics listener) until `stop`. */
export async function serveNode(node: PreparedNode, started: StartedNode, options: AgentOptions, log: Logger): Promise<{ stop(kind?: StopKind): Promise<void> }> {
  const { settings, config, dataplane } = node;
  const { agent, bgp, l2, drain, metrics } = started;
  agent.start();
  const api = options.apiListen === undefined ? { host: config.api.host, port: config.api.port } : splitListen(options.apiListen);
  const deps: ApiDeps = {
    status: () => agent.status(),
    counters: () => dataplane.counters(),
    leftOut: () => settings.leftOut,
    nodeAddresses: () => defaultRouteAddresses(config.vipInterface.name),
    bgp: () => bgp.current(),
    l2: () => {
      const status = l2.status();
      return status === undefined ? undefined : l2StatusView(status);
    },
    drain,
    explain: { node: config.nodeName, ...(dataplane.readBack === undefined ? {} : { readBack: (frontends) => dataplane.readBack!(frontends) }) },
    registry: metrics.registry,
    log,
  };
  const vipRoutes = (): readonly string[] => settings.input?.vipInterface?.routes ?? [];
  const http = await startHttpServers({ api, ...(options.metricsListen === undefined ? {} : { metricsListen: options.metricsListen }), deps, vipRoutes });
  // Kubernetes mode: what the kernel and the peers really show, for the Services' conditions.
  const write = node.writeNodeStatus;
  const publisher = write === undefined ? undefined : new NodeStatusPublisher({
    snapshot: () => gatherSnapshot(deps, vipRoutes, agent.status().table.frontends, 0),
    write: (report) => write(config.nodeName, report),
    log,
  });
  publisher?.start();
  log.info({ api: `${api.host}:${api.port}`, metrics: options.metricsListen ?? null, engine: node.engine, settings: node.from }, 'agent running');
  return {
    stop: async (kind: StopKind = 'restart') => {
      await publisher?.stop();
      await node.stopSources();
      http.close();
      await agent.stop({ kind });
      if (kind === 'remove') await runMarker(runMarkerPath(options.stateFile)).remove();
    },
  };
}
