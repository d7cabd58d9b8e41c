// What the API shows of the agent, defined here (by its reader): the agent hands the API a
// `status()` that returns an AgentStatus; the API never imports the agent.
import type { ApplyReport } from '../dataplane/dataplane.ts';
import type { DesiredInput, ServiceProblem, ServiceTable } from '../model/index.ts';

export interface LastPass {
  readonly at: string;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly errors: readonly string[];
  readonly dataplane?: ApplyReport;
  /** Where the pass spent its time, milliseconds: what to look at when a pass is slow. */
  readonly phases: { readonly desired: number; readonly host: number; readonly dataplane: number; readonly announcer: number; readonly bookkeeping: number };
}

/** A snapshot for the API: what is served now, and what is wrong. */
export interface AgentStatus {
  readonly engine: string;
  readonly announcer: string;
  readonly table: ServiceTable;
  readonly frontendIds: ReadonlyMap<string, number>;
  readonly problems: readonly ServiceProblem[];
  readonly advertisements: readonly string[];
  readonly vipInterface?: { readonly name: string; readonly kind: string };
  readonly lastPass?: LastPass;
  readonly configError?: string;
  /** The input the table was built from (Services, pools, deny list): what `vipgate explain` walks from. */
  readonly input?: DesiredInput;
}

/** Whether the node is being taken out of service (docs/design/013-drain.md). */
export type DrainStateName = 'not-drained' | 'draining' | 'drained';

export interface DrainStatus {
  readonly state: DrainStateName;
  /** When the node entered this state (ISO 8601). */
  readonly since: string;
  /** What asks for the drain: `vipgate drain`, a cordoned Node, an LBNodeConfig; empty when not drained. */
  readonly requestedBy: readonly string[];
  /** While draining: when the routes are withdrawn at the latest (ISO 8601). */
  readonly deadline?: string;
}

/** `/v1/l2`: which LB node answers ARP/NDP for each L2 VIP, as this node sees it (docs/design/017). */
export interface L2StatusView {
  readonly node: string;
  /** False while this node answers for nothing (dataplane broken, draining, stopping). */
  readonly eligible: boolean;
  readonly why: string;
  readonly peers: readonly {
    readonly name: string;
    readonly peerAddress: string;
    readonly localAddress: string;
    /** BFD state: Up, Down, Init, AdminDown. */
    readonly state: string;
    /** ISO time its session came Up; null while it is not. */
    readonly upSince: string | null;
    readonly changedAt: string | null;
    readonly reason: string | null;
  }[];
  readonly vips: readonly {
    readonly vip: string;
    readonly interface: string;
    readonly owner: string | null;
    /** This node answers for it now. */
    readonly answering: boolean;
    readonly since: string;
    readonly why: string;
    readonly ranked: readonly string[];
  }[];
  readonly counters: { readonly answers: { readonly arp: number; readonly ndp: number }; readonly announcements: number; readonly ownershipChanges: number; readonly conflicts: number };
  readonly failed: readonly { readonly interface: string; readonly message: string }[];
}
