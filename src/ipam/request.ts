import type { Protocol } from '../model/index.ts';
import { Protocols } from '../model/index.ts';
import { tryParseIp, type Family, type IpAddress } from '../net/index.ts';
import { IpamError, IpamErrorCode } from './errors.ts';

/** What a Service asks of IPAM. */
export interface AllocationRequest {
  /** `namespace/name`: the key under which addresses are held. */
  readonly service: string;
  readonly namespace: string;
  /** One VIP per family: [4], [6] or [4, 6] (dual-stack: all or none). */
  readonly families: readonly Family[];
  /** Specific addresses asked for (spec.loadBalancerIP, annotation); at most one per family. */
  readonly requested: readonly string[];
  /** Take addresses from this pool only. */
  readonly pool?: string;
  /** Services with the same key may share a VIP when no (port, protocol) clashes. */
  readonly sharingKey?: string;
  /** The Service's labels, for pools with a serviceSelector; absent: none. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly ports: readonly { readonly port: number; readonly protocol: Protocol }[];
}

export type AllocationResult =
  | { readonly ok: true; readonly addresses: readonly string[] }
  | { readonly ok: false; readonly error: IpamError };

/** A request checked and put in the shape the allocator works with. */
export interface NormalizedRequest {
  readonly request: AllocationRequest;
  /** Sorted: 4 before 6, so results list IPv4 first. */
  readonly families: readonly Family[];
  readonly requestedByFamily: ReadonlyMap<Family, IpAddress>;
  /** "80/tcp" for each port, for clash checks. */
  readonly ports: ReadonlySet<string>;
}

function bad(request: AllocationRequest, field: string, message: string): IpamError {
  return new IpamError(IpamErrorCode.badRequest, `service ${request.service}: ${message}`, { field });
}

export function portKey(port: number, protocol: Protocol): string {
  return `${port}/${protocol}`;
}

/** Checks a request's own consistency (not against pools or other Services). */
export function normalizeRequest(request: AllocationRequest): NormalizedRequest | IpamError {
  if (request.service === '') return bad(request, 'service', 'the service key is empty; use "namespace/name"');
  const families = [...new Set(request.families)].sort((a, b) => a - b);
  if (families.length === 0) return bad(request, 'families', 'asks for no address family; give [4], [6] or [4, 6]');
  if (families.length !== request.families.length || families.some((f) => !([4, 6] as number[]).includes(f))) {
    return bad(request, 'families', `has families [${request.families.join(', ')}]; allowed are [4], [6] or [4, 6]`);
  }
  const requestedByFamily = new Map<Family, IpAddress>();
  for (const [i, text] of request.requested.entries()) {
    const field = `requested[${i}]`;
    const address = tryParseIp(text);
    if (address === undefined) return bad(request, field, `requested address "${text}" is not an IPv4 or IPv6 address`);
    if (!families.includes(address.family)) {
      return bad(request, field, `requested address ${text} is IPv${address.family}, but the service asks for IPv${families.join(' and IPv')} only`);
    }
    if (requestedByFamily.has(address.family)) {
      return bad(request, field, `requests two IPv${address.family} addresses; a service gets one address per family`);
    }
    requestedByFamily.set(address.family, address);
  }
  const ports = new Set<string>();
  for (const [i, { port, protocol }] of request.ports.entries()) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      return bad(request, `ports[${i}]`, `port ${port} is not a port number (1 to 65535)`);
    }
    if (!(Protocols as readonly string[]).includes(protocol)) {
      return bad(request, `ports[${i}]`, `protocol "${protocol}" is not one of ${Protocols.join(', ')}`);
    }
    ports.add(portKey(port, protocol));
  }
  return { request, families, requestedByFamily, ports };
}
