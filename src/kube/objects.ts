/**
 * The parts of Kubernetes objects vipgate reads, as plain read-only shapes. The client library's
 * model classes satisfy them structurally, so nothing outside src/kube depends on the library,
 * and pure code is tested with object literals.
 */
export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Set once deletion was asked for (the object lingers while finalizers run). */
  readonly deletionTimestamp?: Date | string;
  /** Set by the API server at creation; never changes (a first-holder tiebreak that survives restarts). */
  readonly creationTimestamp?: Date | string;
}

export interface KubeServicePort {
  readonly name?: string;
  readonly protocol?: string;
  readonly port: number;
  readonly targetPort?: number | string;
  readonly nodePort?: number;
}

export interface KubeCondition {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: Date | string;
  readonly observedGeneration?: number;
}

export interface KubeIngress {
  readonly ip?: string;
  readonly hostname?: string;
  readonly ipMode?: string;
}

export interface KubeService {
  readonly metadata?: ObjectMeta;
  readonly spec?: {
    readonly type?: string;
    /** `None` for a headless Service. */
    readonly clusterIP?: string;
    readonly ports?: readonly KubeServicePort[];
    readonly externalIPs?: readonly string[];
    readonly loadBalancerIP?: string;
    readonly loadBalancerClass?: string;
    readonly loadBalancerSourceRanges?: readonly string[];
    readonly ipFamilies?: readonly string[];
    readonly ipFamilyPolicy?: string;
    readonly sessionAffinity?: string;
    /** `Local`: only nodes with a ready endpoint take traffic on the node ports. */
    readonly externalTrafficPolicy?: string;
    readonly allocateLoadBalancerNodePorts?: boolean;
  };
  readonly status?: {
    readonly loadBalancer?: { readonly ingress?: readonly KubeIngress[] };
    readonly conditions?: readonly KubeCondition[];
  };
}

export interface KubeEndpoint {
  readonly addresses: readonly string[];
  readonly conditions?: { readonly ready?: boolean; readonly serving?: boolean; readonly terminating?: boolean };
  readonly nodeName?: string;
}

export interface KubeEndpointSlice {
  readonly metadata?: ObjectMeta;
  readonly addressType: string;
  readonly endpoints: readonly KubeEndpoint[];
  readonly ports?: readonly { readonly name?: string; readonly port?: number; readonly protocol?: string }[];
}

export interface KubeNode {
  readonly metadata?: ObjectMeta;
  readonly spec?: { readonly unschedulable?: boolean };
  readonly status?: {
    readonly addresses?: readonly { readonly type: string; readonly address: string }[];
    readonly conditions?: readonly { readonly type: string; readonly status: string }[];
  };
}

/** A vipgate.io/v1alpha1 VIPPool as the API returns it (custom objects are plain JSON). */
export interface KubeVipPool {
  readonly metadata?: ObjectMeta;
  readonly spec?: Readonly<Record<string, unknown>>;
  readonly status?: Readonly<Record<string, unknown>>;
}

/** A vipgate.io/v1alpha1 LBNodeConfig: one LB node's VIP interface and dataplane settings. */
export interface KubeLbNodeConfig {
  readonly metadata?: ObjectMeta;
  readonly spec?: Readonly<Record<string, unknown>>;
}

/** A vipgate.io/v1alpha1 LBNodeStatus: what one LB node's agent reads back (docs/design/019), checked by its reader. */
export interface KubeLbNodeStatus {
  readonly metadata?: ObjectMeta;
  readonly status?: Readonly<Record<string, unknown>>;
}

/** Any vipgate.io custom object read as plain JSON (BGPPeer, BGPAdvertisement, L2Advertisement): checked by its reader. */
export interface KubeCustomObject {
  readonly metadata?: ObjectMeta;
  readonly spec?: Readonly<Record<string, unknown>>;
}

/** A Secret: `data` values are base64, as the API serves them. */
export interface KubeSecret {
  readonly metadata?: ObjectMeta;
  readonly data?: Readonly<Record<string, string>>;
}

/** `namespace/name` (or `name` for cluster-scoped objects): the key work queues and caches use. */
export function objectKey(obj: { readonly metadata?: ObjectMeta }): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns === undefined || ns === '' ? name : `${ns}/${name}`;
}

/** A core/v1 Event, the parts `vipgate explain` shows (the controller's and agents' Events on a Service). */
export interface KubeEvent {
  readonly metadata?: ObjectMeta;
  readonly involvedObject?: { readonly kind?: string; readonly name?: string; readonly namespace?: string };
  readonly type?: string;
  readonly reason?: string;
  readonly message?: string;
  readonly count?: number;
  readonly firstTimestamp?: Date | string;
  readonly lastTimestamp?: Date | string;
  readonly eventTime?: Date | string;
  readonly source?: { readonly component?: string; readonly host?: string };
}
