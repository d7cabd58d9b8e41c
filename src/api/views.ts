import type { FrontendCounters } from '../dataplane/dataplane.ts';
import type { Backend, FrontendType, Protocol, ServiceProblem } from '../model/index.ts';
import type { AgentStatus, DrainStatus, LastPass } from './status.ts';

/** One row of `vipgate service list`: the JSON the API serves at /v1/services. */
export interface ServiceRow {
  readonly id: number;
  readonly frontend: string;
  readonly service: string;
  readonly type: FrontendType;
  readonly address: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly backends: readonly Backend[];
  readonly sessionAffinity: string;
  readonly packets: string;
  readonly bytes: string;
}

/** An object the agent's source left out (a Kubernetes Service, VIPPool, BGPPeer…), and why. */
export interface SourceProblem {
  readonly object: string;
  readonly message: string;
}

export interface ServicesView {
  readonly engine: string;
  readonly services: readonly ServiceRow[];
  readonly problems: readonly ServiceProblem[];
  /** Objects the source could not turn into desired state: never reached the reconcile. */
  readonly leftOut: readonly SourceProblem[];
}

export function servicesView(status: AgentStatus, counters: ReadonlyMap<string, FrontendCounters>, leftOut: readonly SourceProblem[] = []): ServicesView {
  const rows = status.table.frontends.map((f): ServiceRow => {
    const c = counters.get(f.key);
    return {
      id: status.frontendIds.get(f.key) ?? 0,
      frontend: f.key,
      service: f.service,
      type: f.type,
      address: f.address,
      port: f.port,
      protocol: f.protocol,
      backends: f.backends,
      sessionAffinity: f.sessionAffinity,
      packets: (c?.packets ?? 0n).toString(),
      bytes: (c?.bytes ?? 0n).toString(),
    };
  });
  rows.sort((a, b) => a.id - b.id);
  return { engine: status.engine, services: rows, problems: status.problems, leftOut };
}

/** `/v1/status`: the agent's state in JSON. */
export interface StatusView {
  readonly engine: string;
  readonly announcer: string;
  readonly frontends: number;
  readonly problems: readonly ServiceProblem[];
  readonly leftOut: readonly SourceProblem[];
  readonly advertisements: readonly string[];
  readonly vipInterface: { readonly name: string; readonly kind: string } | null;
  readonly lastPass: LastPass | null;
  readonly configError: string | null;
  /** Absent from agents older than drain. */
  readonly drain?: DrainStatus;
}
