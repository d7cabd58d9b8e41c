// What a source (the config file, the Kubernetes source) hands the agent: the shared input type,
// here so that sources and the agent agree on it without one importing the other.
import type { Pool } from './pool.ts';
import type { ServiceSpec } from './service.ts';

/** The whole desired state of the VIP interface on one LB node. */
export interface VipInterfaceSpec {
  /** Link name, e.g. "cilium_ext" (Linux allows 1–15 characters, no "/" or whitespace). */
  readonly name: string;
  /** Addresses with their prefix length, e.g. "10.200.0.1/24" (the gateway address of the CIDR). */
  readonly addresses: readonly string[];
  /** Prefixes routed to the interface, e.g. "10.200.0.0/16". */
  readonly routes: readonly string[];
}

/** What a source says the LB node should serve: cluster state plus this node's policy. */
export interface DesiredInput {
  readonly pools: readonly Pool[];
  readonly services: readonly ServiceSpec[];
  /** Client CIDRs never served (the cluster nodes). */
  readonly denySources: readonly string[];
}

/** Everything a source hands the agent: cluster state plus this node's settings. */
export interface AgentInput extends DesiredInput {
  readonly vipInterface?: VipInterfaceSpec;
}
