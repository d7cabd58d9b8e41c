import type { Backend, Pool, ServiceSpec } from '../model/index.ts';
import { serviceKey } from '../model/index.ts';
import { parseIp, parseRange, rangeContains } from '../net/index.ts';
import { familyNumber } from './families.ts';
import type { AgentConfig, PortConfig, ServiceConfig } from './types.ts';

/**
 * The config's pools as IPAM takes them. A gateway address of the VIP interface that falls
 * inside a pool is added to that pool's `reserved`: handing it to a Service would put the
 * gateway and a VIP on one address.
 */
export function poolsFromConfig(cfg: AgentConfig): readonly Pool[] {
  // A reload that kept the pools and the VIP interface (src/config/incremental.ts keeps the very
  // objects) keeps the pools array too: the announcer and IPAM reuse their work by identity.
  const memo = poolsMemo.get(cfg.pools);
  if (memo?.vipInterface === cfg.vipInterface) return memo.pools;
  const pools = poolsOf(cfg);
  poolsMemo.set(cfg.pools, { vipInterface: cfg.vipInterface, pools });
  return pools;
}

const poolsMemo = new WeakMap<AgentConfig['pools'], { readonly vipInterface: AgentConfig['vipInterface']; readonly pools: readonly Pool[] }>();

function poolsOf(cfg: AgentConfig): Pool[] {
  const gateways = cfg.vipInterface.addresses.map((a) => ({ text: a.address, ip: parseIp(a.address) }));
  return cfg.pools.map((pool) => {
    const ranges = pool.addresses.map((a) => parseRange(a));
    const inPool = gateways.filter((g) => ranges.some((r) => rangeContains(r, g.ip))).map((g) => g.text);
    return { ...pool, reserved: [...new Set([...pool.reserved, ...inPool])] };
  });
}

/** The config's services in the shape every source produces, keyed `namespace/name`. */
export function servicesFromConfig(cfg: AgentConfig): ServiceSpec[] {
  return cfg.services.map((service) => {
    let spec = specs.get(service);
    if (spec === undefined) {
      spec = serviceSpecOf(service);
      specs.set(service, spec);
    }
    return spec;
  });
}

/**
 * The spec made of each service's settings object. A reload hands on the objects of the services
 * it did not change (src/config/incremental.ts), so their specs are the same objects too, and the
 * pass reuses its work on them by identity without comparing 10,000 specs field by field.
 */
const specs = new WeakMap<ServiceConfig, ServiceSpec>();

function backendsFor(service: ServiceConfig, port: PortConfig): Backend[] {
  return service.backends.map((b) => ({
    address: b.address,
    // A per-backend override wins: a pod that listens elsewhere than its peers.
    port: (port.name === '' ? undefined : b.ports[port.name]) ?? port.targetPort,
    weight: b.weight,
    state: b.state,
  }));
}

function serviceSpecOf(service: ServiceConfig): ServiceSpec {
  return {
    key: serviceKey(service.namespace, service.name),
    namespace: service.namespace,
    name: service.name,
    type: service.type,
    externalIPs: service.externalIPs,
    requestedIPs: service.loadBalancerIPs,
    ipFamilies: service.ipFamilies.map(familyNumber),
    ...(service.pool === undefined ? {} : { pool: service.pool }),
    ...(service.sharingKey === undefined ? {} : { sharingKey: service.sharingKey }),
    ports: service.ports.map((port) => ({
      name: port.name,
      port: port.port,
      protocol: port.protocol === 'TCP' ? 'tcp' : 'udp',
      backends: backendsFor(service, port),
    })),
    sessionAffinity: service.sessionAffinity,
    sourceRanges: service.loadBalancerSourceRanges,
    snat: service.snat,
  };
}
