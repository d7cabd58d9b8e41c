import { causeOption, VipgateError } from '../errors.ts';

/**
 * Stable error codes for VIP allocation. Callers (the controller, the CLI) match on `code`;
 * the message is for a person and names what is wrong and what would be accepted.
 */
export const IpamErrorCode = {
  /** A pool definition is unusable (bad CIDR or range, duplicate name, bad priority). */
  badPool: 'IPAM_BAD_POOL',
  /** Two pool entries share addresses: an address must belong to exactly one pool. */
  poolOverlap: 'IPAM_POOL_OVERLAP',
  /** A request is malformed (no families, an unparsable or duplicate requested address, bad port). */
  badRequest: 'IPAM_BAD_REQUEST',
  /** No pool can serve the request: the named pool does not exist, or none auto-assigns. */
  noPool: 'IPAM_NO_POOL',
  /** The named pool exists but does not admit the Service's namespace. */
  namespaceNotAllowed: 'IPAM_NAMESPACE_NOT_ALLOWED',
  /** The pool's serviceSelector does not select the Service's labels. */
  serviceNotSelected: 'IPAM_SERVICE_NOT_SELECTED',
  /** No usable pool has addresses of the asked-for family (IPv6 for a v4-only pool, say). */
  familyUnavailable: 'IPAM_FAMILY_UNAVAILABLE',
  /** Every usable pool of the family is full. Reported on the one Service, never thrown. */
  poolExhausted: 'IPAM_POOL_EXHAUSTED',
  /** A requested (or restored) address is outside every pool the Service may use. */
  notInPool: 'IPAM_NOT_IN_POOL',
  /** The address is reserved: network, broadcast, subnet-router anycast, pool.reserved, .0/.255. */
  reserved: 'IPAM_RESERVED',
  /** The address is held by a Service with another (or no) sharing key. */
  addressInUse: 'IPAM_ADDRESS_IN_USE',
  /** Same sharing key, but a (port, protocol) is already served on that address. */
  portClash: 'IPAM_PORT_CLASH',
  /** spec.externalIPs names an address no pool allows for this namespace (CVE-2020-8554). */
  externalIPNotAllowed: 'IPAM_EXTERNAL_IP_NOT_ALLOWED',
} as const;
export type IpamErrorCode = (typeof IpamErrorCode)[keyof typeof IpamErrorCode];

export interface IpamErrorDetails {
  /** The pool concerned, when there is one. */
  readonly pool?: string;
  /** The offending field of a pool or request (`addresses[1]`, `requested[0]`). */
  readonly field?: string;
  /** The address concerned, canonical when it parsed. */
  readonly address?: string;
  /** The Service that holds the address, for IPAM_ADDRESS_IN_USE and IPAM_PORT_CLASH. */
  readonly holder?: string;
  readonly cause?: unknown;
}

export class IpamError extends VipgateError<IpamErrorCode> {
  override readonly name = 'IpamError';
  readonly pool: string | undefined;
  readonly field: string | undefined;
  readonly address: string | undefined;
  readonly holder: string | undefined;

  constructor(code: IpamErrorCode, message: string, details: IpamErrorDetails = {}) {
    super(code, message, causeOption(details.cause));
    this.pool = details.pool;
    this.field = details.field;
    this.address = details.address;
    this.holder = details.holder;
  }
}
