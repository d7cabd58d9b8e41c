import {
  CoordinationV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, KubeConfig, PatchStrategy, setHeaderOptions,
  ListWatch, V1MicroTime, Watch, type KubernetesObject, type V1Lease, type CoreV1Event,
} from '@kubernetes/client-node';
import type { Agent as HttpAgent } from 'node:http';
import { KubeError, KubeErrorCode } from './errors.ts';
import { statusOf } from './errors.ts';
import type { KubeCustomObject, KubeEndpointSlice, KubeEvent, KubeLbNodeConfig, KubeLbNodeStatus, KubeNode, KubeSecret, KubeService, KubeVipPool } from './objects.ts';

export const VIPGATE_GROUP = 'vipgate.io';
export const VIPGATE_VERSION = 'v1alpha1';

/** Where to find the cluster: a kubeconfig file, its text (tests), or the in-cluster service account. */
export type KubeTarget = { readonly kubeconfig: string } | { readonly kubeconfigText: string } | { readonly inCluster: true };

/**
 * A Lease as vipgate reads and writes it. Its times are MicroTime on the wire: the API server
 * refuses anything but exactly six fractional digits (`parsing time … as
 * "2006-01-02T15:04:05.000000Z07:00"`), and a plain Date serializes with three. The client
 * library's V1MicroTime writes six, so the type carries the format wherever the value goes.
 */
export interface LeaseRecord {
  readonly resourceVersion?: string;
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: V1MicroTime;
  readonly renewTime?: V1MicroTime;
  readonly leaseTransitions?: number;
}

export interface EventRecord {
  readonly namespace: string;
  readonly involved: { readonly kind: string; readonly name: string; readonly namespace: string; readonly uid?: string; readonly resourceVersion?: string };
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
  readonly component: string;
  readonly at: Date;
}

export type InformedKind = 'services' | 'endpointslices' | 'nodes' | 'vippools' | 'lbnodeconfigs' | 'bgppeers' | 'bgpadvertisements' | 'l2advertisements' | 'secrets' | 'lbnodestatuses';
export interface InformedObject {
  services: KubeService;
  endpointslices: KubeEndpointSlice;
  nodes: KubeNode;
  vippools: KubeVipPool;
  lbnodeconfigs: KubeLbNodeConfig;
  bgppeers: KubeCustomObject;
  bgpadvertisements: KubeCustomObject;
  l2advertisements: KubeCustomObject;
  /** Only in `KubeClientOptions.secretsNamespace` (BGP passwords): the agent may read no other. */
  secrets: KubeSecret;
  lbnodestatuses: KubeLbNodeStatus;
}

/** An informer as `watchKind` uses it: the client library's `ListWatch`, or our `RawInformer`. */
export interface KubeInformer<T> {
  on(verb: 'add' | 'update' | 'delete', handler: (o: T) => void): void;
  on(verb: 'error', handler: (error: unknown) => void): void;
  /** Lists (when needed) and opens the watch; resolves once it is open or has failed. */
  start(): Promise<void>;
  stop(): Promise<void>;
  get(name: string, namespace?: string): T | undefined;
  list(): readonly T[];
}

/** Where a kind is listed and watched, cluster-wide (secrets: in the one namespace allowed). */
export function informedPath(kind: InformedKind, options: KubeClientOptions = {}): string {
  switch (kind) {
    case 'services': return '/api/v1/services';
    case 'endpointslices': return '/apis/discovery.k8s.io/v1/endpointslices';
    case 'nodes': return '/api/v1/nodes';
    case 'secrets': return `/api/v1/namespaces/${options.secretsNamespace ?? 'vipgate-system'}/secrets`;
    default: return `/apis/${VIPGATE_GROUP}/${VIPGATE_VERSION}/${kind}`;
  }
}

export interface KubeClientOptions {
  /** Where `secrets` are listed and watched; default `vipgate-system`. */
  readonly secretsNamespace?: string;
}

/**
 * Everything vipgate asks of the API server, behind one narrow interface: list+watch for the
 * informers, a status write, events and leases. Nothing else imports the client library.
 */
export interface KubeClients {
  /** An informer (not started) for one kind, cluster-wide. */
  informer<K extends InformedKind>(kind: K): KubeInformer<InformedObject[K]>;
  readService(namespace: string, name: string): Promise<KubeService>;
  /** Every Service in every namespace, read once (no watch). */
  listServices(): Promise<readonly KubeService[]>;
  /** Every object of a kind, read once (no watch): what `vipgate explain --kubeconfig` looks at. */
  list<K extends InformedKind>(kind: K): Promise<readonly InformedObject[K][]>;
  /** The Events about one object of `namespace` (by `involvedObject.name`), read once. */
  listEvents(namespace: string, involvedName: string): Promise<readonly KubeEvent[]>;
  /** Merge-patches a Service (spec and metadata); a `metadata.resourceVersion` in the patch makes it conditional (409 when stale). */
  patchService(namespace: string, name: string, patch: object): Promise<KubeService>;
  /** Merge-patches `status` on the status subresource; a resourceVersion makes it conditional (409 when stale). */
  patchServiceStatus(namespace: string, name: string, status: object, resourceVersion?: string): Promise<KubeService>;
  createEvent(event: EventRecord): Promise<void>;
  readLease(namespace: string, name: string): Promise<LeaseRecord | undefined>;
  /** Creates or (with resourceVersion) replaces the lease; 409 when someone else wrote it first. */
  writeLease(namespace: string, name: string, lease: LeaseRecord): Promise<LeaseRecord>;
  /** Merge-patches a VIPPool's status subresource. */
  patchPoolStatus(name: string, status: object): Promise<void>;
  /** Merge-patches the status of LBNodeStatus `name`, creating the object first when it is missing. */
  writeNodeStatus(name: string, status: object): Promise<void>;
  /**
   * Makes ConfigMap `namespace/name` hold exactly `data` (other keys removed): nothing when it
   * already does, a JSON patch of `/data` when it differs, a create when it is missing.
   * Returns what it did.
   */
  syncConfigMapData(namespace: string, name: string, data: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): Promise<'unchanged' | 'updated' | 'created'>;
}

export function loadConfig(target: KubeTarget): KubeConfig {
  const kc = new KubeConfig();
  // The library builds "https://undefined:undefined" without it and retries that forever.
  if ('inCluster' in target && (process.env['KUBERNETES_SERVICE_HOST'] ?? '') === '') {
    throw new KubeError(KubeErrorCode.config, 'cannot load the in-cluster service account: KUBERNETES_SERVICE_HOST is unset (not running in a pod?); pass --kubeconfig FILE instead');
  }
  try {
    if ('kubeconfig' in target) kc.loadFromFile(target.kubeconfig);
    else if ('kubeconfigText' in target) kc.loadFromString(target.kubeconfigText);
    else kc.loadFromCluster();
  } catch (cause) {
    const where = 'kubeconfig' in target ? `kubeconfig ${target.kubeconfig}` : 'kubeconfigText' in target ? 'the given kubeconfig' : 'the in-cluster service account';
    throw new KubeError(KubeErrorCode.config, `cannot load ${where}: ${(cause as Error).message}`, { cause });
  }
  if (kc.getCurrentCluster() === null) throw new KubeError(KubeErrorCode.config, 'the kubeconfig has no current cluster; set current-context');
  reuseConnections(kc);
  return kc;
}

type AgentFactory = (cluster: unknown, options: object) => HttpAgent;

/**
 * The client library builds a new Agent, so a new TCP (and TLS) connection, for every request:
 * 10,000 status writes were 10,000 connects. One keep-alive Agent per distinct setting (server,
 * CA, client certificate, ...) reuses connections; a rotated certificate is a new setting, so
 * it still takes effect. `createAgent` is private in the library's types, hence the cast.
 */
function reuseConnections(kc: KubeConfig): void {
  const target = kc as unknown as { createAgent?: AgentFactory };
  const original = target.createAgent;
  if (typeof original !== 'function') return; // a library change: fall back to its behaviour
  const agents = new Map<string, HttpAgent>();
  target.createAgent = (cluster, options) => {
    const key = JSON.stringify([(cluster as { server?: string } | null)?.server, options]);
    let agent = agents.get(key);
    if (agent === undefined) {
      if (agents.size >= 8) agents.clear(); // settings keep changing: don't hoard old agents
      agent = original.call(kc, cluster, { ...options, keepAlive: true });
      agents.set(key, agent);
    }
    return agent;
  };
}

function toLease(l: V1Lease): LeaseRecord {
  const s = l.spec;
  return {
    ...(l.metadata?.resourceVersion === undefined ? {} : { resourceVersion: l.metadata.resourceVersion }),
    ...(s?.holderIdentity === undefined ? {} : { holderIdentity: s.holderIdentity }),
    ...(s?.leaseDurationSeconds === undefined ? {} : { leaseDurationSeconds: s.leaseDurationSeconds }),
    ...(s?.acquireTime === undefined ? {} : { acquireTime: new V1MicroTime(s.acquireTime) }),
    ...(s?.renewTime === undefined ? {} : { renewTime: new V1MicroTime(s.renewTime) }),
    ...(s?.leaseTransitions === undefined ? {} : { leaseTransitions: s.leaseTransitions }),
  };
}


export function createKubeClients(target: KubeTarget, options: KubeClientOptions = {}): KubeClients {
  const secretsNamespace = options.secretsNamespace ?? 'vipgate-system';
  const kc = loadConfig(target);
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const lists = {
    services: { path: informedPath('services'), list: () => core.listServiceForAllNamespaces() },
    endpointslices: { path: informedPath('endpointslices'), list: () => discovery.listEndpointSliceForAllNamespaces() },
    nodes: { path: informedPath('nodes'), list: () => core.listNode() },
    vippools: {
      path: informedPath('vippools'),
      list: () => custom.listClusterCustomObject({ group: VIPGATE_GROUP, version: VIPGATE_VERSION, plural: 'vippools' }) as Promise<{ items: KubeVipPool[]; metadata?: { resourceVersion?: string } }>,
    },
    lbnodeconfigs: {
      path: informedPath('lbnodeconfigs'),
      list: () => custom.listClusterCustomObject({ group: VIPGATE_GROUP, version: VIPGATE_VERSION, plural: 'lbnodeconfigs' }) as Promise<{ items: KubeLbNodeConfig[]; metadata?: { resourceVersion?: string } }>,
    },
    bgppeers: {
      path: informedPath('bgppeers'),
      list: () => custom.listClusterCustomObject({ group: VIPGATE_GROUP, version: VIPGATE_VERSION, plural: 'bgppeers' }) as Promise<{ items: KubeCustomObject[]; metadata?: { resourceVersion?: string } }>,
    },
    bgpadvertisements: {
      path: informedPath('bgpadvertisements'),
      list: () => custom.listClusterCustomObject({ group: VIPGATE_GROUP, version: VIPGATE_VERSION, plural: 'bgpadvertisements' }) as Promise<{ items: KubeCustomObject[]; metadata?: { resourceVersion?: string } }>,
    },
    l2advertisements: {
      path: informedPath('l2advertisements'),
      list: () => custom.listClusterCustomObject({ group: VIPGATE_GROUP, version: VIPGATE_VERSION, plural: 'l2advertisements' }) as Promise<{ items: KubeCustomObject[]; metadata?: { resourceVersion?: string } }>,
    },
    secrets: { path: informedPath('secrets', options), list: () => core.listNamespacedSecret({ namespace: secretsNamespace }) },
    lbnodestatuses: {
      path: informedPath('lbnodestatuses'),
      list: () => custom.listClusterCustomObject({ group: VIPGATE_GROUP, version: VIPGATE_VERSION, plural: 'lbnodestatuses' }) as Promise<{ items: KubeLbNodeStatus[]; metadata?: { resourceVersion?: string } }>,
    },
  } as const;
  return {
    informer(kind) {
      const { path, list } = lists[kind];
      type T = InformedObject[typeof kind] & KubernetesObject;
      // autoStart false: watchKind starts it once its handlers are in place.
      return new ListWatch<T>(path, new Watch(kc), list as unknown as () => Promise<{ items: T[] }>, false);
    },
    readService: (namespace, name) => core.readNamespacedService({ namespace, name }),
    listServices: async () => (await core.listServiceForAllNamespaces()).items,
    list: async (kind) => (await lists[kind].list()).items as unknown as InformedObject[typeof kind][],
    listEvents: async (namespace, involvedName) => (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${involvedName}` })).items,
    patchService: (namespace, name, patch) => core.patchNamespacedService({ namespace, name, body: patch }, merge),
    patchServiceStatus: (namespace, name, status, resourceVersion) =>
      core.patchNamespacedServiceStatus(
        { namespace, name, body: { ...(resourceVersion === undefined ? {} : { metadata: { resourceVersion } }), status } },
        merge,
      ),
    async createEvent(e) {
      // The library's models are classes; plain JSON is what goes on the wire.
      const event: object = {
        metadata: { generateName: `${e.involved.name}.`, namespace: e.namespace },
        involvedObject: { apiVersion: 'v1', ...e.involved }, type: e.type, reason: e.reason, message: e.message, count: 1,
        firstTimestamp: e.at, lastTimestamp: e.at, source: { component: e.component }, reportingComponent: e.component,
      };
      await core.createNamespacedEvent({ namespace: e.namespace, body: event as CoreV1Event });
    },
    async readLease(namespace, name) {
      try {
        return toLease(await coordination.readNamespacedLease({ namespace, name }));
      } catch (error) {
        if ((error as { code?: number }).code === 404) return undefined;
        throw error;
      }
    },
    async patchPoolStatus(name, status) {
      await custom.patchClusterCustomObjectStatus({ group: VIPGATE_GROUP, version: VIPGATE_VERSION, plural: 'vippools', name, body: { status } }, merge);
    },
    async writeNodeStatus(name, status) {
      const where = { group: VIPGATE_GROUP, version: VIPGATE_VERSION, plural: 'lbnodestatuses', name };
      const patch = (): Promise<object> => custom.patchClusterCustomObjectStatus({ ...where, body: { status } }, merge);
      try {
        await patch();
        return;
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
      }
      // First write from this node: the object (status is ignored on create with a status subresource), then its status.
      try {
        const body = { apiVersion: `${VIPGATE_GROUP}/${VIPGATE_VERSION}`, kind: 'LBNodeStatus', metadata: { name }, spec: {} };
        await custom.createClusterCustomObject({ group: VIPGATE_GROUP, version: VIPGATE_VERSION, plural: 'lbnodestatuses', body });
      } catch (error) {
        if (statusOf(error) !== 409) throw error; // created meanwhile (a restart racing itself)
      }
      await patch();
    },
    async syncConfigMapData(namespace, name, data, labels) {
      let current: { data?: Record<string, string> } | undefined;
      try {
        current = await core.readNamespacedConfigMap({ namespace, name });
      } catch (error) {
        if ((error as { code?: number }).code !== 404) throw error;
      }
      if (current === undefined) {
        try {
          const body: object = { metadata: { name, namespace, labels: { ...labels } }, data: { ...data } };
          await core.createNamespacedConfigMap({ namespace, body: body });
          return 'created';
        } catch (error) {
          // Created by someone else in between (a previous leader, a re-apply): update it below.
          if ((error as { code?: number }).code !== 409) throw error;
        }
      } else if (sameData(current.data ?? {}, data)) return 'unchanged';
      // `add` replaces /data whole (or creates it: the shipped object has none), dropping stale keys.
      await core.patchNamespacedConfigMap({ namespace, name, body: [{ op: 'add', path: '/data', value: { ...data } }] }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
      return 'updated';
    },
    async writeLease(namespace, name, lease) {
      const { resourceVersion, ...spec } = lease;
      const json: object = { metadata: { name, namespace, ...(resourceVersion === undefined ? {} : { resourceVersion }) }, spec };
      const body = json as V1Lease;
      const written = resourceVersion === undefined
        ? await coordination.createNamespacedLease({ namespace, body })
        : await coordination.replaceNamespacedLease({ namespace, name, body });
      return toLease(written);
    },
  };
}

function sameData(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
