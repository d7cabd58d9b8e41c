import type { AllocationRequest } from '../ipam/index.ts';
import type { AddressClaim, Protocol } from '../model/index.ts';
import { tryParseIp, type Family } from '../net/index.ts';
import type { KubeService } from '../kube/index.ts';

import { IPS_ANNOTATION, LOAD_BALANCER_CLASS } from './names.ts';

/** Annotations a Service may carry for vipgate. */
export const Annotations = {
  /** Requested VIPs, comma-separated, at most one per family (dual-stack: "10.200.0.5,fd00::5"). */
  ips: IPS_ANNOTATION,
  /** Take the VIP from this VIPPool only. */
  pool: 'vipgate.io/pool',
  /** Services with the same key may share one VIP when their ports do not clash. */
  sharingKey: 'vipgate.io/sharing-key',
} as const;

export interface ClassPolicy {
  /** Also take LoadBalancer Services that set no loadBalancerClass (vipgate is the cluster default). */
  readonly isDefaultClass: boolean;
}

/** Whether vipgate assigns this Service a load-balancer VIP. */
export function isOurLoadBalancer(svc: KubeService, policy: ClassPolicy): boolean {
  if (svc.spec?.type !== 'LoadBalancer') return false;
  const cls = svc.spec.loadBalancerClass;
  return cls === LOAD_BALANCER_CLASS || (cls === undefined && policy.isDefaultClass);
}

export function keyOf(svc: KubeService): string {
  return `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
}

/** The addresses the Service asks for: the annotation wins over the deprecated spec.loadBalancerIP. */
export function requestedAddresses(svc: KubeService): string[] {
  const annotation = svc.metadata?.annotations?.[Annotations.ips];
  if (annotation !== undefined) return annotation.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const ip = svc.spec?.loadBalancerIP;
  return ip === undefined || ip === '' ? [] : [ip];
}

/**
 * VIP families: `spec.ipFamilies` as the API server settled them from `ipFamilyPolicy`
 * (RequireDualStack and PreferDualStack on a dual-stack cluster list both). A requested address
 * of a family the Service does not list adds nothing: IPAM reports the mismatch.
 */
export function vipFamilies(svc: KubeService): Family[] {
  const listed = (svc.spec?.ipFamilies ?? ['IPv4']).map((f): Family => (f === 'IPv6' ? 6 : 4));
  const families = svc.spec?.ipFamilyPolicy === 'SingleStack' ? listed.slice(0, 1) : listed;
  return families.length === 0 ? [4] : [...new Set(families)];
}

export function protocolOf(text: string | undefined): Protocol | undefined {
  if (text === undefined || text === 'TCP') return 'tcp';
  if (text === 'UDP') return 'udp';
  return undefined; // SCTP: not served by the dataplane
}

/** What IPAM is asked for this Service. */
export function allocationRequest(svc: KubeService): AllocationRequest {
  const annotations = svc.metadata?.annotations ?? {};
  const pool = annotations[Annotations.pool];
  const sharingKey = annotations[Annotations.sharingKey];
  const ports: { port: number; protocol: Protocol }[] = [];
  for (const p of svc.spec?.ports ?? []) {
    const protocol = protocolOf(p.protocol);
    if (protocol !== undefined) ports.push({ port: p.port, protocol });
  }
  return {
    service: keyOf(svc),
    namespace: svc.metadata?.namespace ?? '',
    families: vipFamilies(svc),
    requested: requestedAddresses(svc),
    ...(pool === undefined || pool === '' ? {} : { pool }),
    ...(sharingKey === undefined || sharingKey === '' ? {} : { sharingKey }),
    ...(svc.metadata?.labels === undefined ? {} : { labels: svc.metadata.labels }),
    ports,
  };
}

/** The VIPs the Service's status holds (the controller's truth after a restart), IPv4 first. */
export function ingressAddresses(svc: KubeService): string[] {
  const out: string[] = [];
  for (const ingress of svc.status?.loadBalancer?.ingress ?? []) {
    if (ingress.ip !== undefined && tryParseIp(ingress.ip) !== undefined) out.push(ingress.ip);
  }
  return out.sort((a, b) => Number(a.includes(':')) - Number(b.includes(':')));
}

/** The controller's condition on a Service with externalIPs: True while every one is its to serve. */
export const EXTERNAL_IPS_ALLOWED_CONDITION = 'vipgate.io/ExternalIPsAllowed';
/** The controller's condition on a LoadBalancer Service: True while it has its VIPs. */
export const VIP_ALLOCATED_CONDITION = 'vipgate.io/VIPAllocated';

const instantOf = (t: Date | string | undefined): number => (t === undefined ? NaN : typeof t === 'string' ? Date.parse(t) : t.getTime());

/**
 * A Service's place in the queue for its addresses (model AddressClaim), read from the object
 * so that every replica and every restart agrees: holding while the controller's condition for
 * its kind of address is True (since that condition's lastTransitionTime), otherwise since its
 * creation. A Service with no usable time ranks after those with one.
 */
export function claimOf(svc: KubeService): AddressClaim | undefined {
  const type = (svc.spec?.externalIPs ?? []).length > 0 ? EXTERNAL_IPS_ALLOWED_CONDITION : VIP_ALLOCATED_CONDITION;
  const held = svc.status?.conditions?.find((c) => c.type === type && c.status === 'True');
  const heldSince = instantOf(held?.lastTransitionTime);
  if (held !== undefined && Number.isFinite(heldSince)) return { holding: true, since: heldSince };
  const created = instantOf(svc.metadata?.creationTimestamp);
  return Number.isFinite(created) ? { holding: false, since: created } : undefined;
}
