import type { AgentStatus } from '../agent/agent.ts';
import type { FrontendCounters } from '../dataplane/dataplane.ts';
import type { Backend, FrontendType, Protocol, ServiceProblem } from '../model/index.ts';

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

export interface ServicesView {
  readonly engine: string;
  readonly services: readonly ServiceRow[];
  readonly problems: readonly ServiceProblem[];
}

export function servicesView(status: AgentStatus, counters: ReadonlyMap<string, FrontendCounters>): ServicesView {
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
  return { engine: status.engine, services: rows, problems: status.problems };
}
