import type { Frontend, ServiceTable } from '../model/index.ts';

/** Packet and byte counts of one frontend since its rules were installed. */
export interface FrontendCounters {
  readonly packets: bigint;
  readonly bytes: bigint;
}

/** What one apply did to the kernel, for logs, metrics and tests. */
export interface ApplyReport {
  /** False when the kernel already matched the table and nothing was sent. */
  readonly changed: boolean;
  /** Frontends whose rules were (re)written, added or removed in this pass. */
  readonly frontendsWritten: number;
  readonly frontendsRemoved: number;
  /** True when the kernel's state was read back and found to differ from what was last applied. */
  readonly driftRepaired: boolean;
  readonly durationMs: number;
}

/**
 * One frontend as the kernel holds it now, read from the kernel at the moment of asking (not
 * from what this process applied): what `vipgate explain` shows as the dataplane link.
 */
export interface FrontendReadBack {
  /** The frontend's entry is there (nftables: its element in frontends4/6 or closed4/6; xdp: its vg_services entry). */
  readonly present: boolean;
  /** New flows are sent to a backend (an element with a verdict; a ring of size > 0). */
  readonly takesNewFlows: boolean;
  /** Distinct backends the kernel's entry points at. */
  readonly backends: number;
  /** Where it was read, for people: `element 10.200.0.5 . tcp . 80 in inet vipgate frontends4`. */
  readonly where: string;
  /** Engines with a program: whether it is attached to each interface it should be on. */
  readonly program?: readonly { readonly interface: string; readonly attached: boolean }[];
}

export interface ApplyOptions {
  /**
   * Read the installed state back from the kernel instead of trusting what this process last
   * applied. The agent does this at start and periodically, so that a rule deleted by hand, or a
   * table left by an earlier agent, is reconciled.
   */
  readonly resync?: boolean;
}

/**
 * A dataplane engine (nftables, xdp, userspace). It takes the whole desired table, compares it
 * with what is installed, and makes the difference in one atomic step: traffic never sees half
 * a change. Rules stay in the kernel when the agent stops, so traffic survives a restart;
 * only `cleanup` removes them.
 */
export interface Dataplane {
  readonly engine: string;
  apply(table: ServiceTable, options?: ApplyOptions): Promise<ApplyReport>;
  /** Counters by frontend key. */
  counters(): Promise<ReadonlyMap<string, FrontendCounters>>;
  /** Reads these frontends back from the kernel now, by frontend key (one read for all of them). */
  readBack?(frontends: readonly Frontend[]): Promise<ReadonlyMap<string, FrontendReadBack>>;
  /** Removes everything this dataplane installed. */
  cleanup(): Promise<void>;
  /** Releases resources held by this process; leaves the kernel's rules in place. */
  close(): Promise<void>;
}
