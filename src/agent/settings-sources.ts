// Where this node's settings and Services come from: the standalone file, the cluster, or both
// (a file for the node's settings, the cluster for the Services). Each reports to AgentSettings.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/index.ts';
import type { EventRecord } from '../kube/index.ts';
import { FileSource } from '../sources/file.ts';
import type { NodeSettings } from '../sources/kubernetes.ts';
import type { AgentSettings } from './settings.ts';

export interface SettingsSourceOptions {
  /** The standalone file; in Kubernetes mode optional (this node's settings then come from its LBNodeConfig). */
  readonly config?: string;
  /** Take Services, EndpointSlices and VIPPools from Kubernetes (a kubeconfig file, or 'in-cluster'). */
  readonly kubeconfig?: string;
  /** Kubernetes mode with the pod's service account, unless `kubeconfig` says otherwise. */
  readonly kubernetes?: boolean;
  /** This node's Node name (selects its LBNodeConfig); default: the host name. */
  readonly nodeName?: string;
  /** Also serve LoadBalancer Services without a loadBalancerClass. */
  readonly defaultLoadBalancerClass?: boolean;
}

export type SourcesStart =
  | {
      readonly ok: true;
      /** The first settings. */
      readonly config: AgentConfig;
      /** In Kubernetes mode: writes an Event (best effort). */
      readonly recordEvent?: (event: EventRecord) => void;
      /** In Kubernetes mode: writes this node's LBNodeStatus status. */
      readonly writeNodeStatus?: (name: string, status: object) => Promise<void>;
      stop(): Promise<void>;
    }
  | { readonly ok: false; readonly message: string };

export function fromKubernetes(options: SettingsSourceOptions): boolean {
  return options.kubernetes === true || options.kubeconfig !== undefined;
}

/** Starts the sources and waits for the first settings (and, in Kubernetes mode, the cluster's first view). */
export async function startSettingsSources(options: SettingsSourceOptions, settings: AgentSettings, log: Logger): Promise<SourcesStart> {
  const file = options.config === undefined ? undefined : fileSource(options.config, settings, log);
  const first = await file?.start();
  if (file !== undefined && first !== undefined && !first.ok) {
    file.stop();
    return { ok: false, message: `config refused, nothing started\n${first.error.message}` };
  }
  const fileConfig = first?.ok === true ? first.config : undefined;
  if (fileConfig !== undefined) settings.initial(fileConfig);
  if (!fromKubernetes(options)) {
    if (file === undefined || fileConfig === undefined) throw new Error('invariant: no settings from the file or the cluster');
    return { ok: true, config: fileConfig, stop: () => Promise.resolve(file.stop()) };
  }
  const cluster = await startClusterSource(options, settings, log, fileConfig);
  return {
    ok: true,
    config: cluster.config,
    recordEvent: cluster.recordEvent,
    writeNodeStatus: cluster.writeNodeStatus,
    stop: async () => {
      file?.stop();
      await cluster.stop();
    },
  };
}

function fileSource(path: string, settings: AgentSettings, log: Logger): FileSource {
  return new FileSource({
    path,
    onChange: (result) => {
      if (result.ok) settings.changed(result.config);
      else settings.refused(result.error.format());
    },
    onWarning: (message) => log.warn(message),
  });
}

/**
 * The cluster's Services, EndpointSlices and VIPPools; this node's settings from the file when
 * one is given, else from the LBNodeConfig that selects this node.
 */
async function startClusterSource(
  options: SettingsSourceOptions,
  settings: AgentSettings,
  log: Logger,
  fileConfig: AgentConfig | undefined,
): Promise<{ config: AgentConfig; recordEvent: (event: EventRecord) => void; writeNodeStatus: (name: string, status: object) => Promise<void>; stop(): Promise<void> }> {
  const { startKubernetesSource } = await import('../sources/kubernetes.ts');
  const target = options.kubeconfig === undefined || options.kubeconfig === 'in-cluster' ? {} : { kubeconfig: options.kubeconfig };
  const nodeName = options.nodeName ?? hostname().toLowerCase();
  const waiting = fileConfig === undefined ? waitForNodeSettings(nodeName, settings, log) : undefined;
  const source = startKubernetesSource({
    ...target,
    log,
    isDefaultClass: options.defaultLoadBalancerClass === true,
    // Informer events of one change arrive together; the agent coalesces whatever comes
    // during a pass. A longer window is only latency (one EndpointSlice change → kernel).
    debounceMs: 10,
    ...(waiting === undefined ? (fileConfig === undefined ? {} : { fileSettings: fileConfig }) : { nodeName, onNodeSettings: waiting.onNodeSettings }),
    onInput: (input, problems) => settings.clusterChanged(input, problems),
  });
  // With a file, its kubernetes: section (backends: pods | nodePort) and SNAT shape the
  // Services the cluster source builds: hand it over before the next input.
  if (fileConfig !== undefined) settings.on('config', (config) => source.setFileSettings(config));
  await source.ready;
  const config = fileConfig ?? (await waiting?.settled);
  if (config === undefined) throw new Error('invariant: no settings from the file or the cluster');
  settings.initial(config);
  return { config, recordEvent: (event) => source.recordEvent(event), writeNodeStatus: (name, status) => source.writeNodeStatus(name, status), stop: () => source.stop() };
}

/**
 * Without a file the node waits for an LBNodeConfig that selects it: the DaemonSet may well be
 * applied before the LBNodeConfig is. Later results are changes (or refusals) of the settings.
 */
function waitForNodeSettings(
  nodeName: string,
  settings: AgentSettings,
  log: Logger,
): { onNodeSettings: (result: NodeSettings) => void; settled: Promise<AgentConfig> } {
  let firstSettings: (config: AgentConfig) => void = () => undefined;
  const settled = new Promise<AgentConfig>((resolve) => (firstSettings = resolve));
  let settingsKnown = false;
  const onNodeSettings = (result: NodeSettings): void => {
    if (!result.ok) {
      if (settingsKnown) settings.refused(result.message);
      else log.error({ node: nodeName }, `waiting for this node's settings: ${result.message}`);
      return;
    }
    if (!settingsKnown) {
      settingsKnown = true;
      log.info({ node: nodeName, from: result.from }, 'node settings from the cluster');
      firstSettings(result.config);
    } else {
      settings.changed(result.config);
    }
  };
  return { onNodeSettings, settled };
}
