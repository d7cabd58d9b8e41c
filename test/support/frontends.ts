// Frontends for the dataplane tests: `default/web` on a VIP, with the given backends.
import { frontendKey, type Backend, type Frontend } from '../../src/model/index.ts';

/** `default/web` on `address`:`port` over `protocol`, masqueraded, open to every source. */
export function frontendOf(address: string, port: number, protocol: 'tcp' | 'udp', backends: readonly Backend[], extra: Partial<Frontend> = {}): Frontend {
  return {
    key: frontendKey(address, port, protocol),
    service: 'default/web',
    type: 'LoadBalancer',
    address,
    family: address.includes(':') ? 6 : 4,
    port,
    protocol,
    backends,
    sessionAffinity: 'None',
    allowedSources: 'any',
    snat: 'masquerade',
    ...extra,
  };
}

/** The same on port 80. */
export const webFrontend = (address: string, protocol: 'tcp' | 'udp', backends: readonly Backend[], extra: Partial<Frontend> = {}): Frontend =>
  frontendOf(address, 80, protocol, backends, extra);

/** A ready backend of weight 1. */
export const readyBackend = (address: string, port: number): Backend => ({ address, port, weight: 1, state: 'ready' });
