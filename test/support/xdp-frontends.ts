// The frontend the XDP tests program: default/web on VIP:80, with the given backends.
import { frontendKey, type Backend, type Frontend } from '../../src/model/index.ts';

/** `default/web` on `address`:80 over `protocol`, masqueraded, open to every source. */
export function webFrontend(address: string, protocol: 'tcp' | 'udp', backends: readonly Backend[], extra: Partial<Frontend> = {}): Frontend {
  return {
    key: frontendKey(address, 80, protocol),
    service: 'default/web',
    type: 'LoadBalancer',
    address,
    family: address.includes(':') ? 6 : 4,
    port: 80,
    protocol,
    backends,
    sessionAffinity: 'None',
    allowedSources: 'any',
    snat: 'masquerade',
    ...extra,
  };
}

/** A ready backend of weight 1. */
export const readyBackend = (address: string, port: number): Backend => ({ address, port, weight: 1, state: 'ready' });
