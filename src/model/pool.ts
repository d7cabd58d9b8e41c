/**
 * An address pool that VIPs are taken from. The standalone file and (later) the VIPPool CRD
 * both produce this shape; IPAM consumes it.
 */
export interface Pool {
  readonly name: string;
  /** CIDRs ("10.200.0.0/16", "fd00:200::/64") or inclusive ranges ("10.200.1.10-10.200.1.20"). */
  readonly addresses: readonly string[];
  /** Hand out addresses to LoadBalancer Services that did not name a pool or an address. */
  readonly autoAssign: boolean;
  /** Never hand out IPv4 addresses ending in .0 or .255 (some clients mistreat them). */
  readonly avoidBuggyIPs: boolean;
  /** Addresses in this pool may be claimed through `spec.externalIPs` (see Security). */
  readonly allowExternalIPs: boolean;
  /** Namespaces that may use this pool; empty means all. */
  readonly namespaces: readonly string[];
  /** Addresses never handed out (the VIP interface's gateway, for example). */
  readonly reserved: readonly string[];
  /** Higher first when several pools could serve a request; ties by name. */
  readonly priority: number;
  /** Services (by their labels) that may use this pool; absent or empty means all. */
  readonly serviceSelector?: LabelSelector;
}

/** The operators of a Kubernetes label selector requirement (metav1.LabelSelectorOperator). */
export const SelectorOperators = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
export type SelectorOperator = (typeof SelectorOperators)[number];

/** A Kubernetes label selector (metav1.LabelSelector): every term must hold. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly {
    readonly key: string;
    readonly operator: SelectorOperator;
    readonly values?: readonly string[];
  }[];
}
