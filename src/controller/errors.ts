import { IpamErrorCode } from '../ipam/index.ts';

/** Event reasons the controller puts on Services (`kubectl describe svc` shows them). */
export const EventReason = {
  allocated: 'VIPAllocated',
  allocationFailed: 'AllocationFailed',
  externalIPRejected: 'ExternalIPRejected',
  released: 'VIPReleased',
} as const;
export type EventReason = (typeof EventReason)[keyof typeof EventReason];

/** Condition types the controller keeps in `status.conditions`. */
export const ConditionType = {
  /** True when the Service has its VIPs; False says why not. */
  vipAllocated: 'vipgate.io/VIPAllocated',
  /** False when an address in spec.externalIPs is refused (CVE-2020-8554). */
  externalIPsAllowed: 'vipgate.io/ExternalIPsAllowed',
  /** On a VIPPool: True while IPAM hands addresses out from it; False says why not (Conflict, Invalid). */
  poolUsable: 'vipgate.io/Usable',
  /** Some LB node has the Service's frontends in its kernel as the table says (docs/design/019). */
  served: 'vipgate.io/Served',
  /** Some LB node told a router (BGP) or answers ARP/NDP (L2) for its VIPs; on a VIPPool: all its held VIPs are. */
  announced: 'vipgate.io/Announced',
} as const;

/** Condition reasons (CamelCase, as metav1.Condition requires) for each IPAM failure. */
export const FailureReason: Readonly<Record<IpamErrorCode, string>> = {
  [IpamErrorCode.badPool]: 'BadPool',
  [IpamErrorCode.poolOverlap]: 'PoolOverlap',
  [IpamErrorCode.badRequest]: 'BadRequest',
  [IpamErrorCode.noPool]: 'NoPool',
  [IpamErrorCode.namespaceNotAllowed]: 'NamespaceNotAllowed',
  [IpamErrorCode.serviceNotSelected]: 'ServiceNotSelected',
  [IpamErrorCode.familyUnavailable]: 'FamilyUnavailable',
  [IpamErrorCode.poolExhausted]: 'PoolExhausted',
  [IpamErrorCode.notInPool]: 'NotInPool',
  [IpamErrorCode.reserved]: 'Reserved',
  [IpamErrorCode.addressInUse]: 'AddressInUse',
  [IpamErrorCode.portClash]: 'PortClash',
  [IpamErrorCode.externalIPNotAllowed]: 'ExternalIPNotAllowed',
};
