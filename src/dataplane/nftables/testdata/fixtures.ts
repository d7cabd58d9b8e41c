import type { Backend, Frontend, ServiceTable } from '../../../model/index.ts';
import { frontendKey } from '../../../model/index.ts';

/** Test frontends; each override changes one thing from a plain two-backend TCP frontend. */
export function frontend(address: string, port: number, overrides: Partial<Frontend> = {}): Frontend {
  const protocol = overrides.protocol ?? 'tcp';
  const family = address.includes(':') ? 6 : 4;
  return {
    key: frontendKey(address, port, protocol),
    service: 'default/web',
    type: 'LoadBalancer',
    address,
    family,
    port,
    protocol,
    backends:
      family === 4
        ? [backend('10.100.1.41', 8080), backend('10.100.1.42', 8080)]
        : [backend('fd00:100::41', 8080), backend('fd00:100::42', 8080)],
    sessionAffinity: 'None',
    allowedSources: 'any',
    snat: 'masquerade',
    ...overrides,
  };
}

export function backend(address: string, port: number, overrides: Partial<Backend> = {}): Backend {
  return { address, port, weight: 1, state: 'ready', ...overrides };
}

export function table(frontends: Frontend[], denySources: string[] = []): ServiceTable {
  return { frontends: [...frontends].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)), denySources };
}

/** One of each shape the renderer knows. */
export const MIXED: ServiceTable = table(
  [
    frontend('10.200.0.5', 80),
    frontend('10.200.0.5', 53, {
      protocol: 'udp',
      sessionAffinity: 'ClientIP',
      snat: 'none',
      backends: [backend('10.100.1.41', 53, { weight: 2 }), backend('10.100.1.42', 5353, { weight: 4 }), backend('10.100.1.43', 53, { state: 'terminating' })],
    }),
    frontend('10.200.0.6', 443, { allowedSources: ['192.168.0.0/16', '192.168.7.0/24', '10.1.2.3/32'] }),
    frontend('10.200.0.7', 80, { backends: [backend('10.100.1.50', 80, { state: 'terminating' })] }),
    frontend('10.200.0.8', 80, { allowedSources: [] }),
    frontend('fd00:200::5', 80, { allowedSources: ['2001:db8::/32'] }),
  ],
  ['10.180.0.0/16', '10.180.1.0/24', 'fd00:180::/64', '10.181.0.7'],
);
