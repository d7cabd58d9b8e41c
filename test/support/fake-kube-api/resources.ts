import { isObject, type JsonObject } from './json.ts';
import { S, type Schema } from './schema.ts';
import { ApiError } from './store.ts';

/** One kind the fake serves: where it lives in the URL space and what a valid object looks like. */
export interface ResourceType {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** With a /status subresource, the main resource ignores status and /status ignores the rest. */
  readonly hasStatus: boolean;
  /** Top-level fields besides apiVersion, kind, metadata: unknown ones are refused. */
  readonly schema: Readonly<Record<string, Schema>>;
  /** Fills what a real server defaults, so clients see realistic objects. */
  readonly defaults?: (obj: JsonObject) => void;
}

export function apiVersionOf(r: ResourceType): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

const metadata = S.obj({
  name: S.str, generateName: S.str, namespace: S.str, uid: S.str, resourceVersion: S.str, generation: S.int,
  creationTimestamp: S.any, deletionTimestamp: S.any, labels: S.labels, annotations: S.labels, ownerReferences: S.any,
  finalizers: S.strs, managedFields: S.any,
});
export const METADATA_SCHEMA = metadata;

const condition = S.obj({ type: S.str, status: S.enumOf('True', 'False', 'Unknown'), reason: S.str, message: S.str, lastTransitionTime: S.any, observedGeneration: S.int }, ['type', 'status']);

const servicePort = S.obj({
  name: S.str, protocol: S.enumOf('TCP', 'UDP', 'SCTP'), port: { type: 'integer', min: 1, max: 65535 }, targetPort: { type: 'int-or-string' },
  nodePort: S.int, appProtocol: S.str,
}, ['port']);

const service: ResourceType = {
  group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true, hasStatus: true,
  schema: {
    spec: S.obj({
      type: S.enumOf('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'), ports: S.arr(servicePort), selector: S.labels,
      clusterIP: S.str, clusterIPs: S.strs, externalIPs: S.strs, loadBalancerIP: S.str, loadBalancerClass: S.str,
      loadBalancerSourceRanges: S.strs, ipFamilies: S.arr(S.enumOf('IPv4', 'IPv6')),
      ipFamilyPolicy: S.enumOf('SingleStack', 'PreferDualStack', 'RequireDualStack'), sessionAffinity: S.enumOf('None', 'ClientIP'),
      sessionAffinityConfig: S.any, externalTrafficPolicy: S.enumOf('Cluster', 'Local'), internalTrafficPolicy: S.enumOf('Cluster', 'Local'),
      healthCheckNodePort: S.int, allocateLoadBalancerNodePorts: S.bool, publishNotReadyAddresses: S.bool, externalName: S.str, trafficDistribution: S.str,
    }),
    status: S.obj({
      loadBalancer: S.obj({
        ingress: S.arr(S.obj({ ip: S.str, hostname: S.str, ipMode: S.enumOf('VIP', 'Proxy'), ports: S.any })),
      }),
      conditions: S.arr(condition),
    }),
  },
  defaults: (obj) => {
    const spec = isObject(obj['spec']) ? obj['spec'] : (obj['spec'] = {});
    spec['type'] ??= 'ClusterIP';
    spec['sessionAffinity'] ??= 'None';
    spec['ipFamilies'] ??= ['IPv4'];
    spec['ipFamilyPolicy'] ??= 'SingleStack';
    for (const [i, port] of (Array.isArray(spec['ports']) ? spec['ports'] : []).entries()) {
      if (!isObject(port)) continue;
      port['protocol'] ??= 'TCP';
      port['targetPort'] ??= port['port'] ?? null;
      // The API server's own checks (pkg/apis/core/validation): node ports only on NodePort and
      // LoadBalancer Services, and only in the node-port range (default 30000-32767).
      const nodePort = port['nodePort'];
      if (nodePort === undefined || nodePort === null) continue;
      if (spec['type'] !== 'NodePort' && spec['type'] !== 'LoadBalancer') {
        throw new ApiError(422, 'Invalid', `Service is invalid: spec.ports[${i}].nodePort: Forbidden: may not be used when \`type\` is '${typeof spec['type'] === 'string' ? spec['type'] : ''}'`);
      }
      if (typeof nodePort !== 'number' || nodePort < 30000 || nodePort > 32767) {
        throw new ApiError(422, 'Invalid', `Service is invalid: spec.ports[${i}].nodePort: Invalid value: ${JSON.stringify(nodePort)}: provided port is not in the valid range. The range of valid ports is 30000-32767`);
      }
    }
    if (spec['allocateLoadBalancerNodePorts'] !== undefined && spec['type'] !== 'LoadBalancer') {
      throw new ApiError(422, 'Invalid', `Service is invalid: spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when \`type\` is 'LoadBalancer'`);
    }
    obj['status'] ??= { loadBalancer: {} };
  },
};

const endpointSlice: ResourceType = {
  group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice', namespaced: true, hasStatus: false,
  schema: {
    addressType: S.enumOf('IPv4', 'IPv6', 'FQDN'),
    endpoints: S.arr(S.obj({
      addresses: S.strs, conditions: S.obj({ ready: S.bool, serving: S.bool, terminating: S.bool }), hostname: S.str,
      nodeName: S.str, zone: S.str, targetRef: S.any, hints: S.any, deprecatedTopology: S.any,
    }, ['addresses'])),
    ports: S.arr(S.obj({ name: S.str, port: S.int, protocol: S.enumOf('TCP', 'UDP', 'SCTP'), appProtocol: S.str })),
  },
};

const node: ResourceType = {
  group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, hasStatus: true,
  schema: { spec: S.obj({ podCIDR: S.str, podCIDRs: S.strs, taints: S.any, unschedulable: S.bool, providerID: S.str }), status: S.any },
};

/** Secrets: `data` values are base64; `stringData` is folded into `data` on write, as a real server does. */
const secret: ResourceType = {
  group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true, hasStatus: false,
  schema: { data: S.labels, stringData: S.labels, type: S.str, immutable: S.bool },
  defaults: (obj) => {
    const plain = obj['stringData'];
    if (isObject(plain)) {
      const data = isObject(obj['data']) ? obj['data'] : (obj['data'] = {});
      for (const [k, v] of Object.entries(plain)) data[k] = Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8').toString('base64');
      delete obj['stringData'];
    }
    obj['type'] ??= 'Opaque';
  },
};

const event: ResourceType = {
  group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, hasStatus: false,
  schema: {
    involvedObject: S.any, reason: S.str, message: S.str, source: S.any, firstTimestamp: S.any, lastTimestamp: S.any,
    count: S.int, type: S.enumOf('Normal', 'Warning'), eventTime: S.any, series: S.any, action: S.str, related: S.any,
    reportingComponent: S.str, reportingInstance: S.str,
  },
};

const eventsV1: ResourceType = {
  group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, hasStatus: false,
  schema: {
    regarding: S.any, related: S.any, reason: S.str, note: S.str, type: S.enumOf('Normal', 'Warning'), eventTime: S.any,
    series: S.any, action: S.str, reportingController: S.str, reportingInstance: S.str, deprecatedCount: S.int,
    deprecatedFirstTimestamp: S.any, deprecatedLastTimestamp: S.any, deprecatedSource: S.any,
  },
};

const lease: ResourceType = {
  group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true, hasStatus: false,
  schema: {
    spec: S.obj({
      holderIdentity: S.str, leaseDurationSeconds: S.int, acquireTime: S.any, renewTime: S.any, leaseTransitions: S.int,
      strategy: S.str, preferredHolder: S.str,
    }),
  },
};

/** VIPPool as `deploy/crds/` declares it (group vipgate.io, cluster-scoped). */
const vipPool: ResourceType = {
  group: 'vipgate.io', version: 'v1alpha1', plural: 'vippools', kind: 'VIPPool', namespaced: false, hasStatus: true,
  schema: {
    spec: S.obj({
      addresses: S.strs, autoAssign: S.bool, avoidBuggyIPs: S.bool, allowExternalIPs: S.bool, namespaces: S.strs,
      serviceSelector: S.any, priority: S.int, reserved: S.strs,
    }, ['addresses']),
    status: S.any,
  },
};

const crd = (kind: string, plural: string): ResourceType => ({
  group: 'vipgate.io', version: 'v1alpha1', plural, kind, namespaced: false, hasStatus: true, schema: { spec: S.any, status: S.any },
});

/** The admission policy's params object, as deploy/crds declares it (no status). */
const externalIPPolicy: ResourceType = {
  group: 'vipgate.io', version: 'v1alpha1', plural: 'externalippolicies', kind: 'ExternalIPPolicy', namespaced: false, hasStatus: false,
  schema: { spec: S.obj({ pools: S.arr(S.obj({ name: S.str, cidrs: S.strs, namespaces: S.strs }, ['name', 'cidrs'])) }) },
};

export const RESOURCE_TYPES: readonly ResourceType[] = [
  service, endpointSlice, node, secret, event, eventsV1, lease, vipPool, externalIPPolicy,
  crd('BGPPeer', 'bgppeers'), crd('BGPAdvertisement', 'bgpadvertisements'), crd('LBNodeConfig', 'lbnodeconfigs'),
];
