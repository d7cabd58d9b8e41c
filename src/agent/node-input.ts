// Translation of a node's settings (the standalone file, or an LBNodeConfig) and the cluster's
// Services into the one input the agent reconciles.
import { poolsFromConfig, servicesFromConfig, type AgentConfig } from '../config/index.ts';
import type { VipInterfaceSpec } from '../host/index.ts';
import { parseRange, rangeToCidrs } from '../net/index.ts';
import type { AgentInput } from './agent.ts';
import type { DesiredInput } from './desired.ts';

export function vipInterfaceFromConfig(config: AgentConfig): VipInterfaceSpec {
  return {
    name: config.vipInterface.name,
    addresses: config.vipInterface.addresses.map((a) => `${a.address}/${a.prefixLength}`),
    routes: config.vipInterface.routes,
  };
}

/** The standalone file's view of the world, in the shape every source produces. */
export function inputFromConfig(config: AgentConfig): AgentInput {
  return {
    pools: poolsFromConfig(config),
    services: servicesFromConfig(config),
    denySources: config.dataplane.denySources,
    vipInterface: vipInterfaceFromConfig(config),
  };
}

/** CIDRs covering the cluster's pools: the VIP routes when the node settings name none. */
export function clusterPoolCidrs(cluster: DesiredInput): string[] {
  return [...new Set(cluster.pools.flatMap((p) => p.addresses.flatMap((a) => rangeToCidrs(parseRange(a)))))];
}

/** The cluster's Services and pools, served with this node's settings (deny list, VIP interface). */
export function inputFromCluster(cluster: DesiredInput, config: AgentConfig): AgentInput {
  const vipInterface = vipInterfaceFromConfig(config);
  // No routes set: route what the cluster's pools hold, as the file does with its own pools.
  const routes = vipInterface.routes.length > 0 ? vipInterface.routes : clusterPoolCidrs(cluster);
  return { ...cluster, denySources: config.dataplane.denySources, vipInterface: { ...vipInterface, routes } };
}
