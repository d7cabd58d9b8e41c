import { IPS_ANNOTATION } from '../kube-model/index.ts';
import { canonicalIp, tryParseIp } from '../net/index.ts';
import { SkipReason } from './errors.ts';
import type { MigratableService } from './service.ts';

/** A JSON merge patch (RFC 7386) for one Service: `null` deletes a field. */
export interface ServiceMergePatch {
  readonly metadata: { readonly annotations: Readonly<Record<string, string>> };
  readonly spec: {
    readonly type: 'LoadBalancer';
    readonly externalIPs: null;
    readonly allocateLoadBalancerNodePorts?: false;
    readonly loadBalancerClass?: string;
    readonly ipFamilyPolicy?: 'RequireDualStack';
    readonly ipFamilies?: readonly string[];
  };
}

export interface MigrateStep {
  readonly action: 'migrate';
  readonly namespace: string;
  readonly name: string;
  /** The externalIPs, canonical, now requested through the annotation. */
  readonly addresses: readonly string[];
  readonly fromType: string;
  readonly patch: ServiceMergePatch;
  /** For an apply path: send it as a precondition so a Service changed since is not patched. */
  readonly resourceVersion?: string;
  /** Things the person running it should know (dual-stack added, node ports not opened). */
  readonly notes: readonly string[];
}

export interface SkipStep {
  readonly action: 'skip';
  readonly namespace: string;
  readonly name: string;
  readonly reason: SkipReason;
  readonly message: string;
}

export type MigrationStep = MigrateStep | SkipStep;

export interface MigrationOptions {
  /** Set `spec.loadBalancerClass` (needed when vipgate is not the cluster's default LB). */
  readonly loadBalancerClass?: string;
  /**
   * Let the Service get node ports (LB nodes with `backends: nodePort` serve only through
   * them); default false: a ClusterIP Service had none, so none are opened.
   */
  readonly allocateNodePorts?: boolean;
}

function familyOf(address: string): 'IPv4' | 'IPv6' {
  return address.includes(':') ? 'IPv6' : 'IPv4';
}

function stepFor(service: MigratableService, options: MigrationOptions): MigrationStep | undefined {
  const spec = service.spec ?? {};
  const externalIPs = spec.externalIPs ?? [];
  if (externalIPs.length === 0) return undefined;
  const namespace = service.metadata.namespace ?? 'default';
  const name = service.metadata.name;
  const skip = (reason: SkipReason, message: string): SkipStep => ({ action: 'skip', namespace, name, reason, message });
  const type = spec.type ?? 'ClusterIP';

  if (type === 'LoadBalancer') {
    return skip(SkipReason.alreadyLoadBalancer, 'already type LoadBalancer; its externalIPs are extra addresses: move them to a Service of their own');
  }
  if (type === 'ExternalName') return skip(SkipReason.externalName, 'type ExternalName is not served by vipgate');
  if (spec.clusterIP === 'None') return skip(SkipReason.headless, 'headless (clusterIP: None); a LoadBalancer Service needs a cluster IP');

  const bad = externalIPs.find((a) => tryParseIp(a) === undefined);
  if (bad !== undefined) return skip(SkipReason.badAddress, `externalIPs holds "${bad}", which is not an IP address`);
  const addresses = [...new Set(externalIPs.map(canonicalIp))];
  const families = addresses.map(familyOf);
  for (const family of ['IPv4', 'IPv6'] as const) {
    const ofFamily = addresses.filter((a) => familyOf(a) === family);
    if (ofFamily.length > 1) {
      return skip(
        SkipReason.twoOfOneFamily,
        `externalIPs holds ${ofFamily.length} ${family} addresses (${ofFamily.join(', ')}); a LoadBalancer Service asks for at most one per family: split it into one Service per address`,
      );
    }
  }

  const value = addresses.join(',');
  const existing = service.metadata.annotations?.[IPS_ANNOTATION];
  if (existing !== undefined && existing.split(',').map((a) => a.trim()).join(',') !== value) {
    return skip(SkipReason.annotationConflict, `annotation ${IPS_ANNOTATION} already asks for "${existing}", not ${value}`);
  }

  // The Service's families decide which VIPs it gets: every external address's family must be among them.
  const notes: string[] = [];
  const current = spec.ipFamilies ?? ['IPv4'];
  const primary = current[0] ?? 'IPv4';
  let dualStack: { ipFamilyPolicy: 'RequireDualStack'; ipFamilies: string[] } | undefined;
  const missing = [...new Set(families)].filter((f) => !current.includes(f));
  if (missing.length > 0) {
    if (!families.includes(primary as 'IPv4' | 'IPv6')) {
      return skip(SkipReason.familyMismatch, `its primary IP family is ${primary} but externalIPs holds only ${missing.join(', ')}; the primary family can't change: recreate it with ipFamilies [${missing.join(', ')}]`);
    }
    dualStack = { ipFamilyPolicy: 'RequireDualStack', ipFamilies: [primary, ...missing] };
    notes.push(`becomes dual-stack (ipFamilies ${dualStack.ipFamilies.join(', ')}) to keep its ${missing.join(', ')} address; the cluster must be dual-stack`);
  }

  const extra = current.filter((f) => !families.includes(f as 'IPv4' | 'IPv6'));
  if (extra.length > 0) notes.push(`it also gets an ${extra.join(', ')} VIP from a pool: its ipFamilies include ${extra.join(', ')} but its externalIPs did not`);

  // A ClusterIP Service had no node ports; a LoadBalancer would open some on every node.
  const closeNodePorts = type === 'ClusterIP' && options.allocateNodePorts !== true;
  if (closeNodePorts) notes.push('allocateLoadBalancerNodePorts: false, so no node ports open that were closed before');
  else if (type === 'ClusterIP') notes.push('node ports are allocated (--node-ports): they open on every node, and LB nodes with backends: nodePort serve through them');
  // Without a class only a default load balancer takes the Service: if vipgate isn't the
  // default, the address would go dark. Say so where the person reviewing the plan looks.
  if (options.loadBalancerClass === undefined) notes.push('no loadBalancerClass: served only where vipgate is the default load balancer; else add --load-balancer-class vipgate.io/lb');

  const patch: ServiceMergePatch = {
    metadata: { annotations: { [IPS_ANNOTATION]: value } },
    spec: {
      type: 'LoadBalancer',
      externalIPs: null,
      ...(closeNodePorts ? { allocateLoadBalancerNodePorts: false as const } : {}),
      ...(options.loadBalancerClass === undefined ? {} : { loadBalancerClass: options.loadBalancerClass }),
      ...(dualStack ?? {}),
    },
  };
  return {
    action: 'migrate',
    namespace,
    name,
    addresses,
    fromType: type,
    patch,
    ...(service.metadata.resourceVersion === undefined ? {} : { resourceVersion: service.metadata.resourceVersion }),
    notes,
  };
}

/**
 * Plans the move of every Service with `spec.externalIPs` to `type: LoadBalancer` requesting
 * the same addresses (annotation `vipgate.io/ips`), `externalIPs` removed: the controller
 * sees the same Service ask for the address it already holds, so nothing moves. Services
 * without externalIPs are left out; ones that can't be moved safely are listed as skipped
 * with the reason and what to do instead. Sorted by namespace/name; pure.
 */
export function planExternalIPsMigration(services: readonly MigratableService[], options: MigrationOptions = {}): MigrationStep[] {
  return services
    .map((s) => stepFor(s, options))
    .filter((s): s is MigrationStep => s !== undefined)
    .sort((a, b) => (a.namespace === b.namespace ? cmp(a.name, b.name) : cmp(a.namespace, b.namespace)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
